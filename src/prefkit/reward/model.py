"""``RewardModel``: a frozen encoder + an embedding head, under prefkit's model contract.

    model = RewardModel(head="linear").fit(train)      # default encoder: bundled MiniLM, cached
    model.predict_proba(test)                           # P(a ≻ b) per record
    model.reward(test)                                  # (n, 2): r_a, r_b (scalar heads)
    prefkit.save(model, "rm/"); prefkit.load("rm/")    # JSON config + safetensors, no pickle

Heads (``head=``): ``linear`` and ``mlp`` (:mod:`~prefkit.reward.bradley_terry`), ``ensemble``
(:mod:`~prefkit.reward.ensemble`), ``multi`` (ArmoRM, :mod:`~prefkit.reward.multi_objective`) and
``gpm`` (:mod:`~prefkit.reward.gpm`); or any :class:`~prefkit.reward.base.FeatureHead` instance.

A candidate (prompt p, response x) is represented by ``inputs=`` (formulas and sources in
:mod:`prefkit.encode.relevance`): ``"packed+cosine"`` (default), φ = [E(prompt tail + response),
cos(E(p), E(x))] — the packed embedding (:mod:`prefkit.encode.packing`) plus the encoder's own
prompt–response similarity as one feature; ``"packed"``, the packed embedding alone;
``"relevance"``, φ = [E(x), E(p) ⊙ E(x)] — the response embedding and its element-wise product with
the prompt embedding; or ``"packed+relevance"``, both concatenated.  The default was chosen on the
training data of the real-data benchmark by leave-one-source-out transfer, where it beats packed
embeddings alone (docs/reward.md, "Real data").  Records without texts use the candidate ids
as texts.
"""

from __future__ import annotations

import inspect
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.limits import check_inside, read_config
from prefkit.core.persist import config_value, read_arrays, register
from prefkit.data.schema import PreferenceDataset
from prefkit.encode import CachedEncoder, Encoder, SentenceEncoder, default_encoder
from prefkit.encode.relevance import DEFAULT_INPUTS, INPUTS, candidate_features
from prefkit.errors import DataError, ModelFileError, PrefkitError
from prefkit.reward._train import TrainOptions
from prefkit.reward.base import FeatureHead
from prefkit.reward.bradley_terry import BradleyTerryHead
from prefkit.reward.ensemble import EnsembleHead
from prefkit.reward.features import PairFeatures, attribute_columns
from prefkit.reward.gpm import GPMHead
from prefkit.reward.multi_objective import MultiObjectiveHead
from prefkit.reward.regularization import select_weight_decay

#: head name → (class, default options)
HEADS: dict[str, tuple[type[FeatureHead], dict[str, Any]]] = {
    "linear": (BradleyTerryHead, {"hidden": 0}),
    "mlp": (BradleyTerryHead, {"hidden": 256, "lr": 0.01}),
    "ensemble": (EnsembleHead, {"hidden": 0}),
    "multi": (MultiObjectiveHead, {}),
    "gpm": (GPMHead, {}),
}
HEAD_CLASSES: dict[str, type[FeatureHead]] = {
    cls.name: cls for cls in (BradleyTerryHead, EnsembleHead, MultiObjectiveHead, GPMHead)
}


def _accepted(cls: type) -> set[str]:
    """The keyword options a head class takes (its and its bases' keyword-only parameters, plus
    the shared :class:`~prefkit.reward._train.TrainOptions` where it declares them)."""
    names: set[str] = set(TrainOptions.names()) if getattr(cls, "train_options", False) else set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {
                p.name
                for p in inspect.signature(init).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
    return names


def make_head(head: str | FeatureHead, **options: Any) -> FeatureHead:
    """A head by name with ``options`` (unknown options are an error), or the instance itself."""
    if isinstance(head, FeatureHead):
        if options:
            raise DataError("pass options to the head instance, not to RewardModel")
        return head
    if head not in HEADS:
        raise DataError(f"unknown head {head!r} (expected one of {', '.join(HEADS)})", field="head")
    cls, defaults = HEADS[head]
    unknown = sorted(set(options) - _accepted(cls))
    if unknown:
        raise DataError(f"head {head!r} has no option(s) {', '.join(unknown)}", field="head")
    wd = options.get("weight_decay", "auto")
    if wd != "auto" and (isinstance(wd, bool) or not isinstance(wd, int | float) or wd < 0):
        raise DataError(f"weight_decay must be 'auto' or a number ≥ 0, not {wd!r}",
                        field="weight_decay")
    return cls(**{**defaults, **options})


def candidate_columns(ds: PreferenceDataset) -> tuple[list[Any], list[str], list[str]]:
    """(prompts, responses a, responses b) of a pairwise dataset (texts, else candidate ids)."""
    if ds.kind != "pairwise":
        raise DataError(f"a reward model needs pairwise data, this is {ds.kind}", source=ds.name)
    n = len(ds)
    prompts = list(ds.column("prompt")) if "prompt" in ds.columns else [None] * n
    sides = []
    for side in ("a", "b"):
        texts = ds.column(f"{side}_text") if f"{side}_text" in ds.columns else [None] * n
        ids = ds.column(side) if side in ds.columns else [None] * n
        out = []
        for k in range(n):
            value = texts[k] if texts[k] is not None else ids[k]
            if value is None:
                raise DataError(
                    "candidate has neither text nor id", source=ds.name, row=k, field=side
                )
            out.append(str(value))
        sides.append(out)
    return prompts, sides[0], sides[1]


def _lengths(texts: Any) -> np.ndarray:
    """Character lengths of responses: ArmoRM's verbosity signal for ``debias="length"``."""
    return np.array([np.nan if t is None else float(len(str(t))) for t in texts])


@register("reward.RewardModel")
class RewardModel(PreferenceEstimator):
    """Frozen-encoder reward model: an encoder and a head (see the module docstring).

    Args:
        encoder: any object with ``id``, ``dim`` and ``encode(texts)``; default: the bundled
            all-MiniLM-L6-v2 behind the on-disk cache.
        head: a head name or a :class:`~prefkit.reward.base.FeatureHead`.
        inputs: the candidate representation — ``"packed+cosine"`` (default), ``"packed"``,
            ``"relevance"`` or ``"packed+relevance"`` (module docstring;
            :mod:`prefkit.encode.relevance`).
        **options: the head's options (``hidden``, ``epochs``, ``margin``, ``label_smoothing``,
            ``center``, ``ties``, ``members``, ``aggregation``, ``k`` …).  ``weight_decay``
            defaults to ``"auto"``: chosen per fit by cross-validation by prompt
            (:mod:`prefkit.reward.regularization`); the choice is in ``fit_report_``.

    Hyper-parameters are ``encoder``, ``head``, ``inputs`` and the head's options
    (:meth:`get_params`; ``sklearn.base.clone`` works); learned state: ``head.module_``,
    ``fit_report_``.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        head: str | FeatureHead = "linear",
        *,
        inputs: str = DEFAULT_INPUTS,
        **options: Any,
    ) -> None:
        if inputs not in INPUTS:
            raise DataError(
                f"unknown inputs {inputs!r} (expected one of {', '.join(INPUTS)})", field="inputs"
            )
        self.encoder = encoder
        self.inputs = inputs
        self.options = dict(options)
        self._head_param = head
        self.head_spec = head if isinstance(head, str) else head.name
        if isinstance(head, str) and head in HEADS and getattr(HEADS[head][0], "train_options",
                                                               False):
            options = {"weight_decay": "auto", **options}  # chosen from the data by default
        self.head = make_head(head, **options)

    # ------------------------------------------------------------------ sklearn parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``encoder``, ``head``, ``inputs`` and the head options given to ``__init__``."""
        return {"encoder": self.encoder, "head": self._head_param, "inputs": self.inputs,
                **self.options}

    def set_params(self, **params: Any) -> RewardModel:
        merged = {**self.get_params(), **params}
        self.__init__(  # type: ignore[misc]
            merged.pop("encoder"), merged.pop("head"), inputs=merged.pop("inputs"), **merged
        )
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self.head, "module_")

    # ------------------------------------------------------------------ features
    def _encoder(self) -> Any:
        if self.encoder is None:
            self.encoder = default_encoder()
        return self.encoder

    def encode_texts(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        """φ(prompt, response) per candidate under ``inputs`` (encodings are cached)."""
        return candidate_features(self._encoder(), prompts, responses, self.inputs)

    def _prompt_vectors(self, prompts: list[Any]) -> np.ndarray | None:
        if not self.head.needs_prompt or all(p is None for p in prompts):
            return None
        return np.asarray(self._encoder().encode([p or "" for p in prompts]), dtype=np.float32)

    def features(self, ds: PreferenceDataset, *, labels: bool = False) -> PairFeatures:
        """:class:`PairFeatures` of a pairwise dataset (with targets when ``labels``)."""
        prompts, ta, tb = candidate_columns(ds)
        n = len(ds)
        vectors = self.encode_texts(prompts + prompts, ta + tb)
        feats = PairFeatures(vectors[:n], vectors[n:], prompt=self._prompt_vectors(prompts))
        if labels:
            feats.y = ds.outcomes()
            if np.isnan(feats.y).any():
                row = int(np.flatnonzero(np.isnan(feats.y))[0])
                raise DataError("record has no winner or p_a", source=ds.name, row=row)
            feats.w = ds.weights()
            feats.tie = ds.is_tie()
            if self.head.params.get("margin"):
                if "margin" not in ds.columns:
                    raise DataError(
                        "margin=True but the records have no 'margin' column; drop --margin or "
                        "add margins", source=ds.name, field="margin",
                    )
                feats.margin = np.nan_to_num(ds.column("margin").astype(float))
            if isinstance(self.head, MultiObjectiveHead):
                wanted = self.head.params["attributes"] or attribute_columns(ds)
                feats.attributes = {
                    name: (
                        ds.column(f"a_{name}").astype(float),
                        ds.column(f"b_{name}").astype(float),
                    )
                    for name in wanted
                    if f"a_{name}" in ds.columns and f"b_{name}" in ds.columns
                }
                debias = self.head.params.get("debias")
                if debias and not hasattr(self.head, "module_") and not (
                    set(feats.attributes) - {debias}
                ):
                    raise DataError(
                        f"the multi head with --debias {debias} needs rating attributes "
                        "(a_<name>/b_<name> columns) besides the verbosity one; these records "
                        "have none, so every objective would be debiased to a constant",
                        source=ds.name, field="attributes",
                    )
                if self._length_debias and "length" not in feats.attributes:
                    feats.attributes["length"] = (_lengths(ta), _lengths(tb))
        return feats

    @property
    def _length_debias(self) -> bool:
        """The multi head de-biases against response length that the data need not carry."""
        return isinstance(self.head, MultiObjectiveHead) and self.head.params.get(
            "debias") == "length"

    # ------------------------------------------------------------------ contract
    def fit(self, ds: PreferenceDataset, pairs: PreferenceDataset | None = None) -> RewardModel:
        """Fit the head on a pairwise dataset.

        For the ``multi`` head, ``ds`` may instead be a *rating* dataset (``text``, ``prompt``,
        ``scores``): stage 1 regresses its attributes and stage 2 trains the gate on ``pairs``
        (default: ``ds.to_pairs()``, binarized on the first attribute).
        """
        if ds.kind == "rating":
            if not isinstance(self.head, MultiObjectiveHead):
                raise DataError(
                    "rating data trains only the multi-objective head; convert with to_pairs()",
                    source=ds.name,
                )
            self._fit_ratings(ds)
            ds = pairs if pairs is not None else ds.to_pairs()
        feats = self.features(ds, labels=True)
        report: dict[str, Any] = {}
        if self.head.params.get("weight_decay") == "auto":
            prompts = list(ds.column("prompt")) if "prompt" in ds.columns else None
            chosen, search = select_weight_decay(
                self.head, feats, groups=prompts, seed=int(self.head.params.get("seed", 0))
            )
            self.head.params["weight_decay"] = chosen
            report["weight_decay_search"] = search
            try:
                self.head.fit(feats)
            finally:
                self.head.params["weight_decay"] = "auto"
        else:
            self.head.fit(feats)
        if "weight_decay" in self.head.params:
            report["weight_decay"] = (
                report["weight_decay_search"]["chosen"] if "weight_decay_search" in report
                else self.head.params["weight_decay"]
            )
        p = self.head.predict_proba(feats)
        report["train"] = fit_metrics(p, feats.y, feats.w)
        self.fit_report_ = report
        return self

    def _fit_ratings(self, ds: PreferenceDataset) -> None:
        n = len(ds)
        prompts = list(ds.column("prompt")) if "prompt" in ds.columns else [None] * n
        texts = ds.column("text") if "text" in ds.columns else ds.column("item")
        x = self.encode_texts(prompts, [str(t) for t in texts])
        maps = ds.column("scores")
        names = sorted({k for m in maps if m is not None for k, _ in m})
        scores = {name: np.full(n, np.nan) for name in names}
        for i, m in enumerate(maps):
            for k, v in m or []:
                scores[k][i] = np.nan if v is None else float(v)
        if self._length_debias and "length" not in scores:
            scores["length"] = _lengths(texts)
        assert isinstance(self.head, MultiObjectiveHead)
        self.head.fit_attributes(x, scores)

    def evaluate_fit(self, ds: PreferenceDataset) -> dict[str, float]:
        """Log-loss and accuracy (ties excluded) of the fitted model on ``ds`` (fit summary)."""
        feats = self.features(ds, labels=True)
        return fit_metrics(self.head.predict_proba(feats), feats.y, feats.w)

    @property
    def loss_curve_(self) -> list[float]:
        return self.head.loss_curve_

    def predict_outcome_proba(self, ds: PreferenceDataset) -> np.ndarray:
        """(n, 3): P(a ≻ b), P(b ≻ a), P(tie) per record (P(tie) = 0 without ties)."""
        self.check_fitted()
        out = self.head.predict_outcome_proba(self.features(ds))
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            raise ModelOutputError(
                f"the reward model's output is NaN for record {int(np.flatnonzero(bad)[0])} "
                "(its weights are not finite — a diverged fit or a damaged model file; the data "
                "are not at fault)"
            )
        return out

    def predict_proba(self, ds: PreferenceDataset) -> np.ndarray:
        """P(a ≻ b) per record (strict win probability for a ties model)."""
        return self.predict_outcome_proba(ds)[:, 0]

    def reward(self, ds: PreferenceDataset) -> np.ndarray:
        """Rewards (r_a, r_b) per record, shape ``(n, 2)``; the general preference model has
        none and refuses."""
        self.check_fitted()
        if not self.head.scalar:
            raise NotImplementedError("the general preference model has no scalar reward")
        feats = self.features(ds)
        return np.column_stack([self.head.reward(feats.xa, feats.prompt),
                                self.head.reward(feats.xb, feats.prompt)])

    def score(self, ds: PreferenceDataset) -> tuple[np.ndarray, np.ndarray]:
        """Deprecated alias of :meth:`reward` (returns the two columns as a tuple)."""
        warnings.warn("RewardModel.score is deprecated; use reward(ds) -> (n, 2)",
                      DeprecationWarning, stacklevel=2)
        r = self.reward(ds)
        return r[:, 0], r[:, 1]

    def reward_texts(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        """Reward of each response to its prompt (scalar heads), shape ``(n,)``."""
        self.check_fitted()
        if not self.head.scalar:
            raise NotImplementedError("the general preference model has no scalar reward")
        x = self.encode_texts(list(prompts), [str(r) for r in responses])
        return self.head.reward(x, self._prompt_vectors(list(prompts)))

    def score_texts(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        """Deprecated alias of :meth:`reward_texts`."""
        warnings.warn("RewardModel.score_texts is deprecated; use reward_texts",
                      DeprecationWarning, stacklevel=2)
        return self.reward_texts(prompts, responses)

    def uncertainty(self, ds: PreferenceDataset) -> np.ndarray:
        """Ensembles: per record, the members' disagreement std_k (r_k(a) − r_k(b))."""
        if not isinstance(self.head, EnsembleHead):
            raise NotImplementedError("uncertainty needs the ensemble head")
        return self.head.pair_uncertainty(self.features(ds))

    # ------------------------------------------------------------------ persistence
    def _sentence_encoder(self) -> SentenceEncoder | None:
        enc = self.encoder.encoder if isinstance(self.encoder, CachedEncoder) else self.encoder
        return enc if isinstance(enc, SentenceEncoder) else None

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Config (head spec, inputs, head config, encoder record, fit report) and the head's
        weights as ``head.*`` arrays.  A local encoder is copied into the model directory
        (``encoder/``, :meth:`_write_extra`), so the model is self-contained."""
        self.check_fitted()
        enc = self._sentence_encoder()
        record: dict[str, Any] = {"id": getattr(self.encoder, "id", None), "bundled": False,
                                  "path": None}
        inner = getattr(self.encoder, "encoder", self.encoder)
        if getattr(inner, "id", "").startswith("onnx:") and getattr(inner, "bundled", False):
            record.update(bundled=True, backend="onnx")  # the bundled MiniLM on ONNX Runtime
        elif enc is not None and enc.bundled:
            record["bundled"] = True
        elif enc is not None:
            record.update(path=ENCODER_DIR, normalize=enc.normalize,
                          source=str(enc.model_path.resolve()))
        config = {
            "head": self.head_spec,
            "options": self.options,
            "inputs": self.inputs,
            "head_config": self.head.config(),
            "encoder": record,
            "fit_report": getattr(self, "fit_report_", None),
        }
        arrays = {f"head.{k}": v.numpy() for k, v in self.head.state().items()}
        return config, arrays

    def _write_extra(self, directory: Path) -> list[str]:
        enc = self._sentence_encoder()
        if enc is None or enc.bundled:
            return []
        shutil.copytree(enc.model_path, directory / ENCODER_DIR, symlinks=False,
                        ignore=shutil.ignore_patterns(".*"))
        return [ENCODER_DIR]

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path,
        *, encoder: Encoder | None = None,
    ) -> RewardModel:
        where = Path(directory) / "config.json"
        head_config = config_value(config, "head_config", dict, where)
        head_cls = HEAD_CLASSES.get(head_config.get("head"))
        if head_cls is None:
            raise ModelFileError(f"{where}: unknown head {head_config.get('head')!r}")
        inputs = config_value(config, "inputs", str, where)
        if inputs not in INPUTS:
            raise ModelFileError(f"{where}: unknown inputs {inputs!r}")
        state = {k[5:]: v for k, v in arrays.items() if k.startswith("head.")}
        head = head_cls.restore(head_config, state, where)
        enc = encoder if encoder is not None else _saved_encoder(config.get("encoder"), directory)
        spec, options = config.get("head"), config.get("options") or {}
        if not isinstance(options, dict):
            raise ModelFileError(f"{where}: 'options' must be an object")
        if isinstance(spec, str) and spec in HEADS:
            try:  # the hyper-parameters as given to __init__ (get_params / clone round-trip)
                model = cls(enc, spec, inputs=inputs, **options)
            except DataError as err:
                raise ModelFileError(f"{where}: {err.reason}") from None
            model.head = head
        else:
            model = cls(enc, head, inputs=inputs)
        model.head_spec = str(spec or head.name)
        if isinstance(config.get("fit_report"), dict):
            model.fit_report_ = config["fit_report"]
        return model

    @classmethod
    def _from_legacy(cls, directory: Path, *, encoder: Encoder | None = None) -> RewardModel:
        """A 0.1 directory (``config.json`` type RewardModel + ``head.safetensors``)."""
        path = Path(directory)
        doc = read_config(path / "config.json")
        if doc.get("type") != "RewardModel" or doc.get("format") != 2:
            raise ModelFileError(f"{path}: config.json does not describe a RewardModel (format 2)")
        state = read_arrays(path / "head.safetensors")
        config = {"head": doc.get("head"), "inputs": doc.get("inputs", "packed"),
                  "head_config": doc.get("head_config"), "encoder": doc.get("encoder")}
        return cls._from_state(config, {f"head.{k}": v for k, v in state.items()}, path,
                               encoder=encoder)


class ModelOutputError(PrefkitError, FloatingPointError):
    """The model itself (not the data) produced non-finite outputs."""


#: a local encoder is copied into the saved model's directory under this name
ENCODER_DIR = "encoder"


def _saved_encoder(record: Any, directory: Path) -> Any:
    """The encoder a saved model names: the bundled one, or a copy inside its directory.

    A path leading out of the model directory is never followed (models come from strangers):
    pass ``encoder=`` (``--encoder`` on the command line) to use it.
    """
    where = Path(directory) / "config.json"
    if not isinstance(record, dict):
        raise ModelFileError(f"{where}: 'encoder' must be an object")
    if record.get("bundled") is True:
        if record.get("backend") == "onnx":
            from prefkit.encode.onnx_encoder import cached_encoder

            return cached_encoder(None, "onnx")
        return default_encoder()
    raw = record.get("path")
    if not isinstance(raw, str) or not raw:
        raise ModelFileError(
            f"{where}: the model's encoder {record.get('id')!r} cannot be rebuilt; pass encoder="
            " (--encoder)"
        )
    try:
        path = check_inside(raw, directory)
    except ModelFileError:
        raise ModelFileError(
            f"{where}: the model's encoder {raw!r} lies outside the model directory; pass it "
            "explicitly (encoder=, --encoder) if you trust it"
        ) from None
    normalize = record.get("normalize", True)
    return CachedEncoder(SentenceEncoder(path, normalize=bool(normalize)))


def require_texts(ds: PreferenceDataset) -> None:
    """Refuse records without response texts (a reward model would learn model-name strings).

    ``prefkit rm train`` calls it; the Python API still accepts ids as texts for encoders that
    map ids to vectors (module docstring)."""
    if ds.kind != "pairwise":
        return
    for side in ("a_text", "b_text"):
        if side not in ds.columns:
            raise DataError(
                "records have no response texts (a_text/b_text); a reward model learns from "
                "texts — for item-level data use 'prefkit leaderboard'",
                source=ds.name, field=side,
            )
        missing = [k for k, t in enumerate(ds.column(side)) if t is None]
        if missing:
            raise DataError("record has no response text", source=ds.name, row=missing[0],
                            field=side)


def fit_metrics(p: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    """Weighted log-loss and accuracy (ties and soft ½ labels excluded) of P(a ≻ b)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    if not np.isfinite(p).all():
        raise ModelOutputError("training diverged: the model predicts NaN; lower the learning rate")
    per = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    decided = y != 0.5
    acc = float(((p[decided] > 0.5) == (y[decided] > 0.5)) @ w[decided] / max(w[decided].sum(),
                                                                             1e-12))
    return {"log_loss": float(per @ w / max(w.sum(), 1e-12)), "accuracy": acc, "n": len(y)}
