"""``RewardModel``: a frozen encoder + an embedding head, under prefkit's model contract.

    model = RewardModel(head="linear").fit(train)      # default encoder: bundled MiniLM, cached
    model.predict_proba(test)                           # P(a ≻ b) per record
    model.score(test)                                   # (r_a, r_b) per record (scalar heads)
    model.save("rm/"); RewardModel.load("rm/")          # JSON config + safetensors, no pickle

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
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.io import atomic_path
from prefkit.data.schema import PreferenceDataset
from prefkit.encode import CachedEncoder, Encoder, SentenceEncoder, default_encoder
from prefkit.encode.relevance import DEFAULT_INPUTS, INPUTS, candidate_features
from prefkit.errors import DataError, ModelFileError
from prefkit.reward._train import PairFeatures, TrainOptions
from prefkit.reward.base import FeatureHead
from prefkit.reward.bradley_terry import BradleyTerryHead
from prefkit.reward.ensemble import EnsembleHead
from prefkit.reward.gpm import GPMHead
from prefkit.reward.multi_objective import MultiObjectiveHead

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


def attribute_columns(ds: PreferenceDataset) -> list[str]:
    """Names ``x`` with numeric ``a_x`` and ``b_x`` columns (per-side rating attributes)."""
    schema = ds.table.schema
    kinds = (pa.types.is_floating, pa.types.is_integer, pa.types.is_boolean)
    numeric = {f.name for f in schema if any(k(f.type) for k in kinds)}
    return sorted(
        c[2:] for c in numeric if c.startswith("a_") and f"b_{c[2:]}" in numeric and c != "a_text"
    )


class RewardModel:
    """Frozen-encoder reward model: an encoder and a head (see the module docstring).

    Args:
        encoder: any object with ``id``, ``dim`` and ``encode(texts)``; default: the bundled
            all-MiniLM-L6-v2 behind the on-disk cache.
        head: a head name or a :class:`~prefkit.reward.base.FeatureHead`.
        inputs: the candidate representation — ``"packed+cosine"`` (default), ``"packed"``,
            ``"relevance"`` or ``"packed+relevance"`` (module docstring;
            :mod:`prefkit.encode.relevance`).
        **options: the head's options (``hidden``, ``epochs``, ``margin``, ``label_smoothing``,
            ``center``, ``ties``, ``members``, ``aggregation``, ``k`` …).
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
        self.head_spec = head if isinstance(head, str) else head.name
        self.head = make_head(head, **options)

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
            if "margin" in ds.columns:
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
        self.head.fit(self.features(ds, labels=True))
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

    @property
    def loss_curve_(self) -> list[float]:
        return self.head.loss_curve_

    def predict_outcome_proba(self, ds: PreferenceDataset) -> np.ndarray:
        """(n, 3): P(a ≻ b), P(b ≻ a), P(tie) per record (P(tie) = 0 without ties)."""
        self.head.check()
        return self.head.predict_outcome_proba(self.features(ds))

    def predict_proba(self, ds: PreferenceDataset) -> np.ndarray:
        """P(a ≻ b) per record (strict win probability for a ties model)."""
        return self.predict_outcome_proba(ds)[:, 0]

    def score(self, ds: PreferenceDataset) -> tuple[np.ndarray, np.ndarray]:
        """Rewards (r_a, r_b) per record; the general preference model has none and refuses."""
        self.head.check()
        if not self.head.scalar:
            raise NotImplementedError("the general preference model has no scalar reward")
        feats = self.features(ds)
        return self.head.reward(feats.xa, feats.prompt), self.head.reward(feats.xb, feats.prompt)

    def score_texts(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        """Reward of each response to its prompt (scalar heads)."""
        self.head.check()
        if not self.head.scalar:
            raise NotImplementedError("the general preference model has no scalar reward")
        x = self.encode_texts(list(prompts), [str(r) for r in responses])
        return self.head.reward(x, self._prompt_vectors(list(prompts)))

    def uncertainty(self, ds: PreferenceDataset) -> np.ndarray:
        """Ensembles: per record, the members' disagreement std_k (r_k(a) − r_k(b))."""
        if not isinstance(self.head, EnsembleHead):
            raise NotImplementedError("uncertainty needs the ensemble head")
        return self.head.pair_uncertainty(self.features(ds))

    # ------------------------------------------------------------------ persistence
    def _encoder_config(self) -> dict[str, Any]:
        enc = self.encoder.encoder if isinstance(self.encoder, CachedEncoder) else self.encoder
        path = None
        bundled = False
        if isinstance(enc, SentenceEncoder):
            bundled = enc.bundled
            path = None if bundled else str(enc.model_path)
        return {"id": getattr(self.encoder, "id", None), "path": path, "bundled": bundled}

    def save(self, directory: str | os.PathLike[str]) -> None:
        """``config.json`` and ``head.safetensors`` in ``directory`` (atomic writes)."""
        from safetensors.torch import save_file

        self.head.check()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "type": "RewardModel",
            "format": 2,
            "head": self.head_spec,
            "inputs": self.inputs,
            "head_config": self.head.config(),
            "encoder": self._encoder_config(),
        }
        with atomic_path(path / "head.safetensors") as tmp:
            save_file(self.head.state(), tmp)
        with atomic_path(path / "config.json") as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], encoder: Encoder | None = None) -> RewardModel:
        """Load a saved model; ``encoder`` overrides the one recorded in the config."""
        from safetensors.torch import load_file

        path = Path(directory)
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            state = load_file(str(path / "head.safetensors"))
        except (OSError, ValueError) as err:
            raise ModelFileError(f"{path}: not a saved RewardModel ({err})") from None
        if config.get("type") != "RewardModel" or config.get("format") != 2:
            raise ModelFileError(f"{path}: config.json does not describe a RewardModel (format 2)")
        head_config = config["head_config"]
        head_cls = HEAD_CLASSES.get(head_config.get("head"))
        if head_cls is None:
            raise ModelFileError(f"{path}: unknown head {head_config.get('head')!r}")
        enc_config = config.get("encoder") or {}
        if encoder is None:
            if enc_config.get("bundled"):
                encoder = default_encoder()
            elif enc_config.get("path"):
                encoder = CachedEncoder(SentenceEncoder(enc_config["path"]))
            else:
                raise ModelFileError(
                    f"{path}: the model's encoder {enc_config.get('id')!r} cannot be rebuilt; "
                    "pass encoder="
                )
        try:
            head = head_cls.restore(head_config, state)
        except (KeyError, RuntimeError, TypeError) as err:
            raise ModelFileError(f"{path}: head weights do not match the config ({err})") from None
        # files written before ``inputs`` existed used packed texts
        inputs = config.get("inputs", "packed")
        if inputs not in INPUTS:
            raise ModelFileError(f"{path}: unknown inputs {inputs!r}")
        model = cls(encoder, head, inputs=inputs)
        model.head_spec = config.get("head", head.name)
        return model
