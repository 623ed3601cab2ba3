r"""Multi-objective reward head with a prompt-conditioned gate (ArmoRM).

Wang et al. 2024, "Interpretable preferences via multi-objective reward modeling and
mixture-of-experts" (ArmoRM; code: RLHFlow/RLHF-Reward-Modeling ``armo-rm/``).  Two stages on
frozen embeddings x = emb(prompt + response) and p = emb(prompt):

Stage 1 — one ridge regression per named rating attribute j (helpfulness, safety, …)::

    r_j(x) = w_j·x + b_j,    w_j = argmin Σ_i (r_j(x_i) − s_ij)² + α‖w_j‖²

fitted on every candidate whose attribute j is known, then standardised, z_j = (r_j − μ_j) / σ_j.

Stage 2 — a gating network g (an MLP on the prompt embedding, softmax over the J objectives with
temperature T) and a scale β = e^{logit_scale}, trained with the Bradley–Terry loss on pairs::

    g(p) = softmax(MLP(p) / T) ∈ Δ^J,      R(x, p) = Σ_j g_j(p) z_j(x)
    P(a ≻ b) = σ(β (R(x_a, p) − R(x_b, p)))

The regression stage is closed-form; the gate is trained by Adam with stage 1 frozen.
``attribute_rewards`` gives the per-objective z_j, ``gating`` the weights: the model explains
which objectives a prompt's preference follows.

Verbosity de-biasing (``debias="<attribute>"``; Wang et al. 2024, code:
``find_proper_verbosity_penalties`` in ``armo-rm/stage-2_train.py``).  Reward attributes tend to
grow with response length.  With a verbosity attribute v (HelpSteer's "verbosity" in ArmoRM;
here any attribute, e.g. ``"length"`` with the response length as its value, see
:func:`add_length_columns`), every other objective is replaced, before the gate, by::

    z'_j = (z_j − λ_j z_v) / s_j,     λ_j = min {λ ≥ 0 : ρ_S(z_j − λ z_v, z_v) ≤ κ}

where ρ_S is Spearman's rank correlation over a reference distribution (the candidates stage 1
is fitted on), κ = ``debias_target`` (ArmoRM: 0.03) and s_j rescales z'_j to unit variance there
(which leaves ρ_S unchanged).  ρ_S(z_j − λ z_v, z_v) does not increase with λ (raising λ only
turns pairs discordant with z_v), so λ_j is found by bisection; λ_j = 0 when ρ_S ≤ κ already.
The verbosity objective itself becomes z'_v = 0 (ArmoRM's transform has the same effect: its
penalty for the verbosity dimension stays 1), so the gate cannot reward length.  ArmoRM searches a
fixed grid of penalties (0 … 0.95) on raw rewards; the bisection finds the smallest sufficient λ.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward._train import PairFeatures, TrainOptions, pick
from prefkit.reward.base import FeatureHead


class GatedObjectives(nn.Module):
    """Stage-1 regressions (buffers) + stage-2 gate and scale (parameters)."""

    def __init__(
        self,
        dim: int,
        n_attr: int,
        hidden: int = 64,
        layers: int = 1,
        debias_index: int | None = None,
        prompt_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.hidden, self.layers, self.n_attr = hidden, layers, n_attr
        self.register_buffer("attr_w", torch.zeros(n_attr, dim))
        self.register_buffer("attr_b", torch.zeros(n_attr))
        self.register_buffer("attr_mu", torch.zeros(n_attr))
        self.register_buffer("attr_sd", torch.ones(n_attr))
        self.debias_index = debias_index
        if debias_index is not None:  # z' = (z − z_v λ) / s (module docstring)
            self.register_buffer("debias_lam", torch.zeros(n_attr))
            self.register_buffer("debias_scale", torch.ones(n_attr))
        self.gate = self.make_gate(prompt_dim or dim)
        self.logit_scale = nn.Parameter(torch.zeros(()))

    def make_gate(self, width: int) -> nn.Sequential:
        """The gate MLP on prompt embeddings of ``width`` dimensions."""
        self.prompt_dim = width
        parts: list[nn.Module] = []
        for _ in range(self.layers if self.hidden > 0 else 0):
            parts += [nn.Linear(width, self.hidden), nn.GELU()]
            width = self.hidden
        parts.append(nn.Linear(width, self.n_attr))
        return nn.Sequential(*parts)

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised attribute rewards z (before de-biasing): ``(n, J)``."""
        return (x @ self.attr_w.T + self.attr_b - self.attr_mu) / self.attr_sd

    def objectives(self, x: torch.Tensor) -> torch.Tensor:
        """The objectives the gate mixes: z, or z' when de-biasing: ``(n, J)``."""
        z = self.standardized(x)
        if self.debias_index is None:
            return z
        v = self.debias_index
        return (z - z[:, v : v + 1] * self.debias_lam) / self.debias_scale

    def gating(self, prompt: torch.Tensor, temperature: float) -> torch.Tensor:
        return torch.softmax(self.gate(prompt) / temperature, dim=-1)


class MultiObjectiveHead(FeatureHead):
    """ArmoRM-style head (module docstring).

    Args:
        attributes: names of the rating attributes, in order (set from the data when ``None``).
        alpha: ridge penalty of stage 1; hidden, layers: gate MLP (``hidden=0``: linear gate);
        temperature: T; **options: the Adam settings of stage 2
            (:class:`~prefkit.reward._train.TrainOptions`; ``lr`` defaults to 0.01 here).
        debias: name of a verbosity attribute (e.g. ``"length"``) to decorrelate the other
            objectives from (module docstring); it is added to ``attributes`` if missing.
        debias_target: κ, the Spearman correlation with the verbosity attribute that each
            de-biased objective may keep at most (ArmoRM: 0.03).
        prompt_dim: width of the prompt embeddings the gate reads (default: that of the
            candidate embeddings; set by ``fit`` from the prompts it is given).
    """

    name: ClassVar[str] = "multi"
    needs_prompt: ClassVar[bool] = True
    train_options: ClassVar[bool] = True

    def __init__(
        self,
        *,
        attributes: list[str] | None = None,
        alpha: float = 1.0,
        hidden: int = 64,
        layers: int = 1,
        temperature: float = 1.0,
        debias: str | None = None,
        debias_target: float = 0.03,
        prompt_dim: int | None = None,
        **options: Any,
    ) -> None:
        train, _ = TrainOptions.split({"lr": 0.01, **options})  # the gate trains at lr 0.01
        if debias is not None and (not isinstance(debias, str) or not debias):
            raise DataError("debias must name a verbosity attribute", field="debias")
        if not -1.0 < float(debias_target) < 1.0:
            raise DataError(
                f"debias_target must lie in (-1, 1), got {debias_target}", field="debias_target"
            )
        if debias is not None and attributes is not None and debias not in attributes:
            attributes = [*attributes, debias]
        super().__init__(
            attributes=list(attributes) if attributes is not None else None,
            alpha=alpha,
            hidden=hidden,
            layers=layers,
            temperature=temperature,
            **train,
            **({"debias": debias, "debias_target": float(debias_target)} if debias else {}),
            **({"prompt_dim": int(prompt_dim)} if prompt_dim else {}),
        )

    def build(self, dim: int) -> nn.Module:
        torch.manual_seed(self.params["seed"])
        names = self.params["attributes"] or []
        debias = self.params.get("debias")
        return GatedObjectives(
            dim,
            len(names),
            self.params["hidden"],
            self.params["layers"],
            debias_index=names.index(debias) if debias else None,
            prompt_dim=self.params.get("prompt_dim"),
        )

    # ------------------------------------------------------------------ stage 1
    def fit_attributes(self, x: np.ndarray, scores: dict[str, np.ndarray]) -> MultiObjectiveHead:
        """Stage 1: ridge regression of each attribute (NaN = unknown) on embeddings ``x``."""
        if not scores:
            raise DataError("a multi-objective head needs rating attributes", field="attributes")
        names = self.params["attributes"] or sorted(scores)
        missing = [n for n in names if n not in scores]
        if missing:
            raise DataError(f"no values for attribute(s) {missing}", field="attributes")
        self.params["attributes"] = list(names)
        x = np.asarray(x, dtype=np.float64)
        self.dim_ = x.shape[1]
        self.module_ = self.build(self.dim_)
        alpha = self.params["alpha"]
        for j, name in enumerate(names):
            s = np.asarray(scores[name], dtype=np.float64)
            known = ~np.isnan(s)
            if known.sum() < 2:
                raise DataError(f"attribute {name!r} has fewer than 2 known values", field=name)
            xk, sk = x[known], s[known]
            mx, ms = xk.mean(0), sk.mean()
            xc = xk - mx
            w = np.linalg.solve(xc.T @ xc + alpha * np.eye(self.dim_), xc.T @ (sk - ms))
            b = ms - mx @ w
            fitted = x @ w + b
            with torch.no_grad():
                self.module_.attr_w[j] = torch.as_tensor(w, dtype=torch.float32)
                self.module_.attr_b[j] = float(b)
                self.module_.attr_mu[j] = float(fitted.mean())
                self.module_.attr_sd[j] = float(max(fitted.std(), 1e-6))
        if self.params.get("debias"):
            self._fit_debias(x)
        return self

    def _fit_debias(self, x: np.ndarray) -> None:
        """λ_j and s_j on the reference candidates ``x`` (module docstring)."""
        names = self.params["attributes"]
        v = names.index(self.params["debias"])
        target = self.params["debias_target"]
        xt = torch.as_tensor(x, dtype=torch.float32)
        with torch.no_grad():
            z = self.module_.standardized(xt).double().numpy()
        verbose = z[:, v]
        if np.ptp(verbose) == 0:
            raise DataError(
                f"verbosity attribute {names[v]!r} is constant: nothing to decorrelate from",
                field="debias",
            )
        lam, scale = np.zeros(len(names)), np.ones(len(names))
        lam[v] = 1.0  # z'_v = z_v − z_v = 0
        for j in range(len(names)):
            if j != v:
                lam[j] = decorrelation_penalty(z[:, j], verbose, target, name=names[j])
                scale[j] = max(float((z[:, j] - lam[j] * verbose).std()), 1e-6)
        module = self.module_
        for _ in range(50):  # the float32 forward pass must meet the target too (rank near-ties)
            with torch.no_grad():
                module.debias_lam.copy_(torch.as_tensor(lam, dtype=torch.float32))
                module.debias_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
                out = module.objectives(xt).double().numpy()
            after = {j: spearman(out[:, j], verbose) for j in range(len(names)) if j != v}
            late = [j for j, rho in after.items() if rho > target]
            if not late:
                break
            lam[late] = lam[late] * (1 + 1e-6) + 1e-9
        self.debias_report_: dict[str, dict[str, float]] = {
            names[j]: {
                "lambda": float(lam[j]),
                "spearman_before": spearman(z[:, j], verbose),
                "spearman_after": after[j],
            }
            for j in after
        }

    # ------------------------------------------------------------------ stage 2
    def fit(self, feats: PairFeatures) -> MultiObjectiveHead:
        """Stage 1 from ``feats.attributes`` (unless already fitted), then stage 2 on the pairs."""
        feats.check_labels()
        if feats.attributes:
            names = self.params["attributes"] or sorted(feats.attributes)
            x = np.vstack([feats.xa, feats.xb])
            scores = {
                n: np.concatenate([np.asarray(v, dtype=float) for v in feats.attributes[n]])
                for n in names
                if n in feats.attributes
            }
            self.fit_attributes(x, scores)
        elif not hasattr(self, "module_"):
            raise DataError(
                "a multi-objective head needs rating attributes (a_<name>/b_<name> columns or "
                "rating records)",
                field="attributes",
            )
        p = self.params
        t = feats.tensors()
        if feats.prompt is not None and feats.prompt.shape[1] != self.module_.prompt_dim:
            # prompt embeddings need not have the candidates' width (e.g. [E(x), E(p) ⊙ E(x)]):
            # the gate, trained only here, is rebuilt on theirs
            p["prompt_dim"] = int(feats.prompt.shape[1])
            torch.manual_seed(p["seed"])
            self.module_.gate = self.module_.make_gate(p["prompt_dim"])
        prompt = self._prompt(feats)
        with torch.no_grad():
            za, zb = self.module_.objectives(t["xa"]), self.module_.objectives(t["xb"])

        def loss_fn(idx: torch.Tensor | None) -> torch.Tensor:
            g = self.module_.gating(pick(prompt, idx), p["temperature"])
            gap = ((pick(za, idx) - pick(zb, idx)) * g).sum(-1) * self.module_.logit_scale.exp()
            w = pick(t["w"], idx)
            per = nn.functional.binary_cross_entropy_with_logits(
                gap, pick(t["y"], idx), reduction="none"
            )
            return (per * w).sum() / w.sum().clamp_min(1e-12)

        params = [*self.module_.gate.parameters(), self.module_.logit_scale]
        self.loss_curve_ = TrainOptions.of(p).fit(
            params, loss_fn, len(feats), work=2.0 * len(feats) * feats.dim * max(p["hidden"], 1)
        )
        self.module_.eval()
        return self

    def _prompt(self, feats: PairFeatures) -> torch.Tensor:
        if feats.prompt is None:
            return torch.zeros(len(feats), self.module_.prompt_dim)
        return torch.as_tensor(np.asarray(feats.prompt), dtype=torch.float32)

    # ------------------------------------------------------------------ answers
    def attribute_rewards(self, x: np.ndarray, *, debiased: bool = True) -> np.ndarray:
        """Per-objective rewards ``(n, J)`` (columns: ``attributes``).

        The objectives the gate mixes: z_j(x), or z'_j(x) with ``debias`` (the verbosity column
        is then 0); ``debiased=False`` gives the standardised z_j(x) before de-biasing.
        """
        self.check()
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        with torch.no_grad():
            z = self.module_.objectives(xt) if debiased else self.module_.standardized(xt)
        return z.double().numpy()

    def gating(self, prompt: np.ndarray | None, n: int | None = None) -> np.ndarray:
        """Gate weights g(p): ``(n, J)`` rows on the simplex."""
        self.check()
        if prompt is None:
            p = torch.zeros(n or 1, self.module_.prompt_dim)
        else:
            p = torch.as_tensor(np.asarray(prompt), dtype=torch.float32)
        with torch.no_grad():
            return self.module_.gating(p, self.params["temperature"]).double().numpy()

    def reward(self, x: np.ndarray, prompt: np.ndarray | None = None) -> np.ndarray:
        """R(x, p) = β Σ_j g_j(p) z_j(x) per row (β included so that r_a − r_b is the logit)."""
        z = self.attribute_rewards(x)
        g = self.gating(prompt, len(z))
        beta = float(self.module_.logit_scale.detach().exp())
        return beta * (z * g).sum(1)

    def logit(self, feats: PairFeatures) -> torch.Tensor:
        ra = self.reward(feats.xa, feats.prompt)
        rb = self.reward(feats.xb, feats.prompt)
        return torch.as_tensor(ra - rb)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if either side is constant."""
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(np.sqrt((ra @ ra) * (rb @ rb)))
    return float(ra @ rb / denom) if denom > 0 else float("nan")


def decorrelation_penalty(
    r: np.ndarray, verbose: np.ndarray, target: float, *, name: str = "attribute"
) -> float:
    """λ = min {λ ≥ 0 : ρ_S(r − λ·verbose, verbose) ≤ target} (ArmoRM de-biasing; bisection).

    ρ_S(r − λ v, v) is non-increasing in λ, so the smallest sufficient λ is bracketed by doubling
    and narrowed by bisection (to 1e-9 relative); the λ returned always meets the target.
    """
    r, verbose = np.asarray(r, dtype=float), np.asarray(verbose, dtype=float)
    if spearman(r, verbose) <= target:
        return 0.0
    hi = 1.0
    while not spearman(r - hi * verbose, verbose) <= target:  # NaN (constant) is not enough
        hi *= 2.0
        if hi > 1e12:
            raise DataError(
                f"attribute {name!r} cannot be decorrelated from the verbosity attribute to "
                f"Spearman {target}",
                field="debias_target",
            )
    lo = 0.0
    while hi - lo > 1e-9 * hi:
        mid = (lo + hi) / 2
        if spearman(r - mid * verbose, verbose) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def add_length_columns(ds: PreferenceDataset, name: str = "length") -> PreferenceDataset:
    """``a_<name>``/``b_<name>``: the character lengths of ``a_text``/``b_text``.

    The verbosity attribute for ``debias="length"`` (response length as ArmoRM's verbosity).
    """
    if ds.kind != "pairwise" or "a_text" not in ds.columns or "b_text" not in ds.columns:
        raise DataError("length columns need pairwise records with a_text and b_text",
                        source=ds.name, field="a_text")
    out = ds
    for side in ("a", "b"):
        texts = ds.column(f"{side}_text")
        out = out.with_column(
            f"{side}_{name}", [float(len(t)) if t is not None else None for t in texts]
        )
    return out
