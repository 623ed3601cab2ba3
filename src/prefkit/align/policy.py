r"""A trained policy as a preference model: :class:`DPOPolicy` answers the model contract.

DPO (Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a
Reward Model", eq. 5) shows that a policy π trained against a reference π_ref defines an
*implicit reward*

    r(x, y) = β · (log π(y|x) − log π_ref(y|x)),

and its Bradley–Terry preference probability

    P(a ≻ b | x) = σ(r(x, a) − r(x, b))
                 = σ(β · ((log π(a|x) − log π_ref(a|x)) − (log π(b|x) − log π_ref(b|x)))).

Without a reference model the policy is scored *reference-free*, as SimPO (Meng et al. 2024,
"SimPO: Simple Preference Optimization with a Reference-Free Reward", eq. 4) does: the average
log-probability per response token, r(x, y) = β · log π(y|x) / |y|.  Runs trained with a
reference-free loss (``simpo``, ``orpo``, ``cpo``) are always scored that way.

So ``predict_proba(ds)`` (P(a ≻ b) per pairwise record), ``reward(ds)`` (the (r_a, r_b) pairs)
and ``reward_texts(prompts, responses)`` work as for any reward model, and
:func:`prefkit.evaluate.evaluate`, RewardBench-style runners and leaderboards rank a policy beside
reward models and judges.  Log-probabilities are the trainer's own (summed over response tokens,
:func:`prefkit.align.lists.list_logps` → :func:`prefkit.align.pairs.sequence_logps`, with the
same tokenisation and truncation), so a policy is scored exactly as it was trained.

Policies are trained by ``prefkit align train`` (:class:`~prefkit.align.trainer.AlignTrainer`),
not by :meth:`DPOPolicy.fit`.  ``prefkit.load(RUN_DIR)`` opens a run directory
(``align_config.json`` + ``policy/``); the reference is the run's ``base`` model, followed only
when it lies inside the run directory (``--base tiny`` puts it there) — a path named in a file
might point anywhere, so any other ``base`` needs ``reference=PATH`` passed explicitly, and
without it the policy is scored reference-free with a warning.  ``prefkit.save(policy, DIR)``
writes a self-contained directory: ``config.json`` + ``policy/`` (+ ``reference/``) in plain
Hugging Face format.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.limits import check_inside, read_config
from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import config_value, register
from prefkit.errors import DataError, ModelFileError

#: ``reward_type`` values: β·log π/π_ref, or β·(average log π per token) (reference-free)
REWARD_TYPES = ("auto", "implicit", "average")
POLICY_DIR = "policy"
REFERENCE_DIR = "reference"
RUN_CONFIG = "align_config.json"


class ReferenceFreeWarning(UserWarning):
    """A policy is scored without its reference model (average log-probabilities)."""


@register("align.DPOPolicy")
class DPOPolicy(PreferenceEstimator):
    """A causal-LM policy (+ optional reference model) scored by its implicit reward.

    Args:
        beta: β of the implicit reward (the run's β when loaded from a run directory).
        reward_type: ``"implicit"`` β·(log π − log π_ref), ``"average"`` β·log π/|y|
            (reference-free, SimPO), or ``"auto"``: implicit when a reference model is set.
        max_length, max_prompt_length: truncation, as in training.
        batch_size: responses per forward pass.
        device: ``"cpu"``, ``"cuda"`` …; None: CUDA when available.

    Learned state: ``policy_``, ``tokenizer_``, ``reference_`` (None when reference-free) and
    ``run_`` (what the align run recorded: loss, step, base; empty for in-memory policies).

    Example:
        >>> import prefkit
        >>> policy = prefkit.load("runs/dpo")                         # doctest: +SKIP
        >>> prefkit.evaluate.evaluate(policy, prefkit.read("test.jsonl"))  # doctest: +SKIP
    """

    _fitted_attr: ClassVar[str | None] = "policy_"

    def __init__(
        self,
        beta: float = 0.1,
        reward_type: str = "auto",
        max_length: int = 512,
        max_prompt_length: int = 256,
        batch_size: int = 16,
        device: str | None = None,
    ) -> None:
        self.beta = beta
        self.reward_type = reward_type
        self.max_length = max_length
        self.max_prompt_length = max_prompt_length
        self.batch_size = batch_size
        self.device = device

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_models(cls, policy: Any, tokenizer: Any, reference: Any | None = None,
                    **params: Any) -> DPOPolicy:
        """Wrap an in-memory policy (a Hugging Face causal LM), its tokenizer and reference."""
        self = cls(**params)
        self._check_params()
        self._attach(policy, tokenizer, reference, run={})
        return self

    def _attach(self, policy: Any, tokenizer: Any, reference: Any | None,
                run: dict[str, Any]) -> None:
        import torch

        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        self.policy_ = policy.to(device).eval()
        self.tokenizer_ = tokenizer
        self.reference_ = None if reference is None else reference.to(device).eval()
        self.run_ = run
        if self.reward_type == "implicit" and self.reference_ is None:
            raise ValueError("reward_type='implicit' needs a reference model")

    def fit(self, dataset: Any, **fit_params: Any) -> DPOPolicy:
        """Not here: policies are trained by ``prefkit align train`` (or
        :class:`~prefkit.align.trainer.AlignTrainer`); open the run with ``prefkit.load(RUN)``
        or wrap models with :meth:`from_models`."""
        raise NotImplementedError(
            "DPOPolicy does not train: train a policy with 'prefkit align train DATA --base MODEL "
            "--out RUN' (or prefkit.align.trainer.AlignTrainer), then prefkit.load(RUN)")

    def _check_params(self) -> None:
        if self.reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type must be one of {', '.join(REWARD_TYPES)}, "
                             f"not {self.reward_type!r}")
        if not (isinstance(self.beta, int | float) and self.beta > 0):
            raise ValueError(f"beta must be > 0, not {self.beta!r}")

    @property
    def reference_free(self) -> bool:
        """Whether rewards are average log-probabilities (no reference model used)."""
        self.check_fitted()
        return self.reward_type == "average" or (self.reward_type == "auto"
                                                 and self.reference_ is None)

    # ---------------------------------------------------------------- the contract
    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) = σ(r(x, a) − r(x, b)) per pairwise record, shape (n,)."""
        r = self.reward(dataset)
        return np.asarray(sigmoid(r[:, 0] - r[:, 1]), dtype=float)

    def reward(self, dataset: Any) -> np.ndarray:
        """Implicit rewards (r(x, a), r(x, b)) of every pairwise record, shape (n, 2)."""
        self.check_fitted()
        prompts, a_texts, b_texts = _pair_texts(dataset)
        n = len(prompts)
        if n == 0:
            return np.zeros((0, 2))
        texts = [t for pair in zip(a_texts, b_texts, strict=True) for t in pair]
        flat = self._rewards([p for p in prompts for _ in (0, 1)], texts)
        return flat.reshape(n, 2)

    def reward_texts(self, prompts: Any, responses: Any) -> np.ndarray:
        """Implicit reward of each (prompt, response), shape (n,); a None prompt is empty."""
        self.check_fitted()
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        for i, text in enumerate(responses):
            if not isinstance(text, str):
                raise DataError(f"response {i} is {type(text).__name__}, not text")
        if not prompts:
            return np.zeros(0)
        return self._rewards(["" if p is None else str(p) for p in prompts], responses)

    # ---------------------------------------------------------------- log-probabilities
    def _rewards(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """r(x_i, y_i) for aligned lists of prompts and responses."""
        from prefkit.align.lists import TextLists, list_logps, tokenize_lists

        one = np.ones(len(prompts))
        lists = tokenize_lists(
            self.tokenizer_,
            TextLists(prompts, [[r] for r in responses], [np.zeros(1)] * len(prompts), one),
            max_length=self.max_length, max_prompt_length=self.max_prompt_length)
        pad = int(self.tokenizer_.pad_token_id)
        policy = list_logps(self.policy_, lists, pad_id=pad, batch_size=self.batch_size)
        policy = policy.double().numpy()
        if self.reference_free:
            # positions scored by sequence_logps: every response token, but the very first token
            # of a sequence predicts nothing (an empty prompt)
            lengths = np.array([len(r[0]) - (0 if p else 1)
                                for p, r in zip(lists.prompt_ids, lists.response_ids,
                                                strict=True)], dtype=float)
            return self.beta * policy / np.maximum(lengths, 1.0)
        ref = list_logps(self.reference_, lists, pad_id=pad, batch_size=self.batch_size)
        return self.beta * (policy - ref.double().numpy())

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        config = {**self.get_params(), "has_reference": self.reference_ is not None,
                  "run": {k: v for k, v in self.run_.items() if k in ("loss", "step", "base")}}
        return config, {}

    def _write_extra(self, directory: Path) -> list[str]:
        self.policy_.save_pretrained(os.fspath(directory / POLICY_DIR))
        self.tokenizer_.save_pretrained(os.fspath(directory / POLICY_DIR))
        written = [POLICY_DIR]
        if self.reference_ is not None:
            self.reference_.save_pretrained(os.fspath(directory / REFERENCE_DIR))
            written.append(REFERENCE_DIR)
        return written

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Path, *, reference: Any = None, **kw: Any) -> DPOPolicy:
        where = directory / "config.json"
        params = {name: config[name] for name in cls._get_param_names() if name in config}
        params.update(kw)
        self = _checked(cls, params, where)
        model, tokenizer = _load_policy_dir(directory)
        if reference is None and config_value(config, "has_reference", bool, where):
            reference = _load_model(check_inside(REFERENCE_DIR, directory), trusted=False)
        elif reference is not None:
            reference = _explicit_reference(reference)
        run = config.get("run") if isinstance(config.get("run"), dict) else {}
        self._attach(model, tokenizer, reference, run=run)
        return self

    @classmethod
    def _from_legacy(cls, directory: str | os.PathLike[str], *, reference: Any = None,
                     **kw: Any) -> DPOPolicy:
        """Open an align run directory (``align_config.json`` + ``policy/``).

        The reference model is ``reference`` (a path or a loaded model) when given, else the
        run's recorded ``base`` if it lies inside the run directory; otherwise (and for runs of
        a reference-free loss) the policy is scored reference-free.  ``kw`` override the
        hyper-parameters (β, truncation from the run by default).
        """
        from prefkit.align.losses import get_loss

        root = Path(directory)
        where = root / RUN_CONFIG
        info = read_config(where, what="align run configuration")
        run_config = config_value(info, "config", dict, where)
        loss = config_value(run_config, "loss", str, where)
        try:
            spec = get_loss(loss)
        except KeyError:
            raise ModelFileError(f"{where}: unknown loss {loss!r}") from None
        params: dict[str, Any] = {"beta": config_value(run_config, "beta", (int, float), where)}
        for name in ("max_length", "max_prompt_length"):
            if name in run_config:
                params[name] = config_value(run_config, name, int, where)
        if not spec.needs_reference:
            params["reward_type"] = "average"
        params.update(kw)
        self = _checked(cls, params, where)
        model, tokenizer = _load_policy_dir(root)
        base = info.get("base")
        run = {"loss": spec.name, "step": info.get("step"), "base": base}
        if self.reward_type == "average":
            reference = None
        elif reference is not None:
            reference = _explicit_reference(reference)
        else:
            reference = _recorded_reference(root, base)
        self._attach(model, tokenizer, reference, run=run)
        return self


# -------------------------------------------------------------------------------- helpers
def _checked(cls: type[DPOPolicy], params: dict[str, Any], where: Path) -> DPOPolicy:
    try:
        self = cls(**params)
        self._check_params()
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{where}: {err}") from None
    return self


def _pair_texts(dataset: Any) -> tuple[list[str], list[str], list[str]]:
    """(prompts, a_texts, b_texts) of a pairwise dataset; a missing text is a DataError."""
    kind = getattr(dataset, "kind", None)
    if kind != "pairwise":
        raise DataError(f"a policy scores pairwise records, this dataset is {kind} (convert it "
                        "with to_pairs())", source=getattr(dataset, "name", None))
    for col in ("a_text", "b_text"):
        if not dataset.has(col):
            raise DataError("a policy scores response texts; the data has none",
                            source=dataset.name, field=col)
    a, b = dataset.column("a_text"), dataset.column("b_text")
    prompts = dataset.column("prompt") if dataset.has("prompt") else [None] * len(dataset)
    for i in range(len(dataset)):
        if a[i] is None or b[i] is None:
            raise DataError("missing response text", source=dataset.name, row=i,
                            field="a_text" if a[i] is None else "b_text")
    return (["" if p is None else str(p) for p in prompts], [str(t) for t in a],
            [str(t) for t in b])


def _load_model(path: Path, *, trusted: bool) -> Any:
    """A causal LM from a local directory; untrusted (found in a model file) → safetensors only."""
    from transformers import AutoModelForCausalLM

    if not path.is_dir():
        raise ModelFileError(f"{path}: not a model directory")
    try:
        return AutoModelForCausalLM.from_pretrained(
            os.fspath(path), local_files_only=True, trust_remote_code=False,
            **({} if trusted else {"use_safetensors": True}))
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path}: cannot load a causal LM ({first})") from None


def _load_policy_dir(root: Path) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    path = check_inside(POLICY_DIR, root)
    model = _load_model(path, trusted=False)
    try:
        tokenizer = AutoTokenizer.from_pretrained(os.fspath(path), local_files_only=True,
                                                  trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path}: cannot load the tokenizer ({first})") from None
    return model, tokenizer


def _explicit_reference(reference: Any) -> Any:
    """``reference=`` given by the user: a loaded model, or a local directory they trust."""
    if hasattr(reference, "parameters"):
        return reference
    if isinstance(reference, str | os.PathLike):
        return _load_model(Path(reference), trusted=True)
    raise TypeError(f"reference must be a model directory or a loaded model, not "
                    f"{type(reference).__name__}")


def _recorded_reference(root: Path, base: Any) -> Any | None:
    """The run's recorded base model if it lies inside the run directory, else None + warning."""
    if not isinstance(base, str) or not base:
        warnings.warn(f"{root}: the run records no reference model; scoring the policy "
                      "reference-free (average log-probabilities); pass reference=PATH to use "
                      "one", ReferenceFreeWarning, stacklevel=4)
        return None
    try:
        path = check_inside(base, root)
    except ModelFileError:
        warnings.warn(f"{root}: the reference model {base} lies outside the run directory and "
                      "is not followed; scoring the policy reference-free (average "
                      "log-probabilities); pass reference=PATH if you trust it",
                      ReferenceFreeWarning, stacklevel=4)
        return None
    return _load_model(path, trusted=False)
