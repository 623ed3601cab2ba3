"""Style control for judge leaderboards: answer length and markdown as covariates of the BT fit.

Li, Chiang et al. 2024, "Does style matter? Disentangling style and substance in Chatbot Arena"
(LMArena blog), as implemented by arena-hard-auto.  Each battle between answers ``a`` and ``b``
gets, besides the ±1 model indicators, one covariate per style feature; the leaderboard is the
model part of the fit, the style coefficients say how much the judge rewards style::

    P(a ≻ b) = σ( s·(θ_a − θ_b) + Σ_k γ_k z_k )

**Style of one answer** (:func:`answer_style`): ``token_len``, and markdown counts after removing
fenced code blocks (text between two triple back-ticks with no back-tick inside): headers (lines
starting with 1–6 ``#`` and a space), list items (lines starting, after white space, with
``digits.`` or ``-``/``*``/``+`` and a space), bold spans (``**x**`` or ``__x__`` within a line).

**Features** — two published variants, both z-scored per feature over the battles:

* ``v0.1`` (arena-hard-auto ``utils_math.construct_style_matrices``): for every feature f of
  (tokens, headers, lists, bold), ``(f_a − f_b) / (f_a + f_b + 1)``; population std (ddof 0).
* ``v2`` (arena-hard-auto ``show_result.py``): length ``(L_m − L_b) / (L_m + L_b)``; each
  markdown count as a density ``d = count / token_len``, ``(d_m − d_b) / (d_m + d_b + 1)``;
  sample std (ddof 1).  (``m`` = the model, ``b`` = the baseline.)

A feature that does not vary (std 0) is set to 0 instead of dividing by zero (arena-hard-auto
would produce NaN there).

**Fit** (:func:`fit_style_bt`): Newton's method on the convex objective

    ½ λ ‖w‖² + Σ_i c_i · CE(y_i, σ(x_i·w))

with soft outcomes y ∈ {0, ½, 1} (a tie is half a win each way).  ``v0.1`` uses scikit-learn's
default ``LogisticRegression(fit_intercept=False)`` on battles duplicated (a tie as one win and one
loss): λ = 1 (``C = 1``), c_i = 2, model columns ±ln 10; ``v2`` fits the unpenalised BT loss
(λ = 0, c_i = 1, columns ±1) with the baseline's θ fixed at 0 (the likelihood only sees
differences).  A separable sample has no finite unpenalised optimum: a ridge of 10⁻⁸ × Σ x² keeps
it finite (arena-hard-auto stops its L-BFGS after 50 iterations instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefkit.core.mathfn import sigmoid
from prefkit.errors import DataError

FEATURES = ("length", "markdown")
MARKDOWN = ("header_count", "list_count", "bold_count")
VARIANTS = ("v0.1", "v2")

_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")


@dataclass(frozen=True)
class AnswerStyle:
    """Style counts of one answer."""

    token_len: float
    header_count: float
    list_count: float
    bold_count: float

    def vector(self) -> np.ndarray:
        return np.array([self.token_len, self.header_count, self.list_count, self.bold_count])


def _headers(text: str) -> int:
    # arena-hard-auto counts each header level h1..h6 with ``^#{k}\s`` and sums them: a level-k
    # header line is matched by exactly one of those patterns (the k-th), so the sum is the
    # number of lines starting with 1–6 '#' then white space.
    return len(_HEADER.findall(text))


def count_length(text: str, unit: str = "chars") -> int:
    """Length of an answer: ``chars`` (characters), ``words`` (white-space separated)."""
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    raise DataError(f"unknown length unit {unit!r} (expected chars or words)", field="length")


def answer_style(
    text: str, *, length: str | Callable[[str], int] = "chars"
) -> AnswerStyle:
    """Style counts of ``text`` (see the module notes).  ``length``: a unit name or a function
    (e.g. a tokenizer's ``lambda t: len(enc.encode(t))``; arena-hard-auto uses tiktoken's
    ``gpt-4o`` encoding on the whole answer)."""
    if not isinstance(text, str):
        raise DataError("no answer text to measure style on", field="text")
    tokens = length(text) if callable(length) else count_length(text, length)
    body = _CODE_BLOCK.sub("", text)
    lists = len(_ORDERED.findall(body)) + len(_UNORDERED.findall(body))
    bold = len(_BOLD_STARS.findall(body)) + len(_BOLD_UNDERSCORES.findall(body))
    return AnswerStyle(float(tokens), float(_headers(body)), float(lists), float(bold))


def style_from_metadata(meta: dict[str, Any]) -> AnswerStyle:
    """An :class:`AnswerStyle` from arena-hard-auto answer metadata (``metadata`` in v2 answer
    files, ``conv_metadata`` in v0.1): ``token_len`` and counts, each a number or a map of
    numbers (summed)."""

    def total(key: str) -> float:
        if key not in meta:
            raise DataError(f"answer metadata without {key!r}", field=key)
        value = meta[key]
        if isinstance(value, dict):
            return float(sum(value.values()))
        return float(value)

    return AnswerStyle(total("token_len"), total("header_count"), total("list_count"),
                       total("bold_count"))


def _zscore(x: np.ndarray, ddof: int) -> np.ndarray:
    mean = x.mean(axis=0)
    std = x.std(axis=0, ddof=ddof) if len(x) > ddof else np.zeros(x.shape[1])
    return np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)


def style_features(
    style_a: Sequence[AnswerStyle],
    style_b: Sequence[AnswerStyle],
    *,
    variant: str = "v2",
    features: Sequence[str] = FEATURES,
) -> tuple[np.ndarray, list[str]]:
    """The z-scored covariates (n, k) of battles ``a`` vs ``b`` and their names.

    ``v0.1``: ``a`` is the first model of the battle (the baseline in Arena-Hard) and the
    covariates are a − b; ``v2``: ``a`` is the model, ``b`` the baseline (m − b).
    """
    if variant not in VARIANTS:
        raise DataError(f"unknown style variant {variant!r} (expected v0.1 or v2)",
                        field="variant")
    unknown = set(features) - set(FEATURES)
    if unknown or not features:
        raise DataError(f"style features must be among {', '.join(FEATURES)}",
                        field="style_control")
    a = np.array([s.vector() for s in style_a], dtype=float).reshape(-1, 4)
    b = np.array([s.vector() for s in style_b], dtype=float).reshape(-1, 4)
    if variant == "v0.1":
        raw = (a - b) / (a + b + 1.0)
        ddof = 0
    else:
        raw = np.empty_like(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = a[:, 0] + b[:, 0]
            raw[:, 0] = np.where(total > 0, (a[:, 0] - b[:, 0]) / np.where(total > 0, total, 1),
                                 0.0)
            da = np.where(a[:, :1] > 0, a[:, 1:] / np.where(a[:, :1] > 0, a[:, :1], 1), 0.0)
            db = np.where(b[:, :1] > 0, b[:, 1:] / np.where(b[:, :1] > 0, b[:, :1], 1), 0.0)
        raw[:, 1:] = (da - db) / (da + db + 1.0)
        ddof = 1
    z = _zscore(raw, ddof)
    columns, names = [], []
    if "length" in features:
        columns.append(0)
        names.append("length")
    if "markdown" in features:
        columns.extend([1, 2, 3])
        names.extend(MARKDOWN)
    return z[:, columns], names


# ------------------------------------------------------------------ the fit
@dataclass
class StyleFit:
    """Coefficients of a style-controlled BT fit."""

    theta: np.ndarray  # one per model, in the model-column scale
    gamma: np.ndarray  # one per style feature
    models: list[str]
    feature_names: list[str]
    scale: float
    converged: bool

    def win_rate(self, model: str, baseline: str) -> float:
        """P(model ≻ baseline) at equal (average) style: σ(s·(θ_m − θ_base))."""
        i, j = self.models.index(model), self.models.index(baseline)
        return float(sigmoid(self.scale * (self.theta[i] - self.theta[j])))


def _newton(
    x: np.ndarray, y: np.ndarray, c: np.ndarray, penalty: float, *,
    start: np.ndarray | None = None, max_iter: int = 50,
) -> tuple[np.ndarray, bool]:
    """argmin ½ penalty ‖w‖² + Σ c_i CE(y_i, σ(x_i·w)); ``penalty`` 0 gets a 10⁻⁸ ridge.
    Rows with c_i = 0 are skipped; ``start``: a warm start (e.g. the full-data fit)."""
    used = c > 0
    x, y, c = x[used], y[used], c[used]
    ridge = penalty if penalty > 0 else 1e-8 * float((c[:, None] * x * x).sum())
    w = np.zeros(x.shape[1]) if start is None else np.array(start, dtype=float)
    eye = np.eye(x.shape[1])
    step = np.full(x.shape[1], np.inf)
    for _ in range(max_iter):
        p = sigmoid(x @ w)
        grad = x.T @ (c * (p - y)) + ridge * w
        hess = (x * (c * p * (1 - p))[:, None]).T @ x + ridge * eye
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.max(np.abs(step)) < 1e-10 * max(1.0, float(np.max(np.abs(w)))):
            return w, True
    return w, bool(np.max(np.abs(step)) < 1e-6)


class StyleDesign:
    """The design of a style-controlled BT fit, built once and refitted under many weightings
    (bootstrap): P(first ≻ second) = σ(s·(θ_first − θ_second) + γ·z) (see the module notes).

    ``p_first``: soft outcomes (1 win, ½ tie, 0 loss) of ``first``; ``covariates``: (n, k) from
    :func:`style_features` in the same battle frame.  ``v0.1``: λ = 1, rows counted twice,
    s = ln 10, every model has a column; ``v2``: unpenalised, s = 1, ``reference``'s θ fixed at 0.
    """

    def __init__(
        self,
        first: Sequence[str],
        second: Sequence[str],
        p_first: np.ndarray,
        covariates: np.ndarray,
        feature_names: list[str],
        *,
        variant: str = "v2",
        reference: str | None = None,
    ) -> None:
        first, second = list(first), list(second)
        self.models = sorted(set(first) | set(second) | ({reference} if reference else set()))
        index = {m: i for i, m in enumerate(self.models)}
        n, p = len(first), len(self.models)
        self.y = np.asarray(p_first, dtype=float)
        z = np.asarray(covariates, dtype=float).reshape(n, -1)
        self.variant = variant
        self.feature_names = list(feature_names)
        self.scale = float(np.log(10.0)) if variant == "v0.1" else 1.0
        x = np.zeros((n, p + z.shape[1]))
        x[np.arange(n), [index[m] for m in first]] += self.scale
        x[np.arange(n), [index[m] for m in second]] -= self.scale
        x[:, p:] = z
        self.ref = index[reference] if reference is not None else 0
        if variant != "v0.1":
            x = np.delete(x, self.ref, axis=1)
        self.x = x
        self.n_models = p
        self._full: np.ndarray | None = None

    def fit(self, weights: np.ndarray | None = None) -> StyleFit:
        """The fit with battle multiplicities ``weights`` (None: every battle once)."""
        w = np.ones(len(self.y)) if weights is None else np.asarray(weights, dtype=float)
        if self.variant == "v0.1":
            coef, ok = _newton(self.x, self.y, 2.0 * w, penalty=1.0, start=self._full)
            full = coef
        else:
            coef, ok = _newton(self.x, self.y, w, penalty=0.0, start=self._full)
            full = np.insert(coef, self.ref, 0.0)
        if weights is None:
            self._full = coef
        p = self.n_models
        return StyleFit(full[:p], full[p:], self.models, self.feature_names, self.scale, ok)


def fit_style_bt(
    first: Sequence[str],
    second: Sequence[str],
    p_first: np.ndarray,
    covariates: np.ndarray,
    feature_names: list[str],
    *,
    variant: str = "v2",
    reference: str | None = None,
    weights: np.ndarray | None = None,
) -> StyleFit:
    """One fit of :class:`StyleDesign` (see there)."""
    design = StyleDesign(first, second, p_first, covariates, feature_names, variant=variant,
                         reference=reference)
    return design.fit(weights)
