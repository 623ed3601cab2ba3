r"""Preference directions: a user's trade-off between reward objectives as a unit vector.

Wang et al. 2024, "Arithmetic Control of LLMs for Diverse User Preferences: Directional
Preference Alignment with Multi-Objective Rewards" (DPA, ACL 2024).  A multi-objective reward
model gives a vector r(x, y) ∈ ℝᵏ (e.g. helpfulness and verbosity); a user's preference is a
direction v on the unit sphere, and the scalar reward that user maximises is the projection::

    R(x, y; v) = vᵀ r(x, y),        ‖v‖₂ = 1.

In two objectives the paper parameterises v by one angle θ (measured from the first objective
towards the second)::

    v(θ) = (cos θ, sin θ),          θ = atan2(v₂, v₁).

θ = 0 asks for the first objective only; θ < 0 trades it against *less* of the second (e.g.
"helpful but concise" is θ ≈ −15° on (helpfulness, verbosity)).

The policy is told v in its system prompt as integer weights w = round(100·v) in the expression
``weighted rating = helpfulness*w₁ + verbosity*w₂`` (the released DPA model's format, its model
card: w₁ an integer in 0…100 with (w₁/100)² + (w₂/100)² = 1).  :func:`direction_system_prompt`
writes it; ``preamble`` is the sentence before it (pass the released model's own sentence to
query that model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prefkit.errors import DataError

DEFAULT_PREAMBLE = "You are a helpful assistant."


def unit_direction(v: Sequence[float] | np.ndarray) -> np.ndarray:
    """v / ‖v‖₂ as a float vector; a zero or non-finite vector is a :class:`DataError`."""
    arr = np.asarray(v, dtype=float).reshape(-1)
    norm = float(np.linalg.norm(arr))
    if arr.size == 0 or not np.isfinite(norm) or norm == 0.0:
        raise DataError(f"direction {list(arr)} must be a non-zero finite vector",
                        field="direction")
    return arr / norm


def direction_from_angle(theta: float, *, degrees: bool = True) -> np.ndarray:
    """v(θ) = (cos θ, sin θ) — the paper's 2-objective parameterisation."""
    t = np.deg2rad(theta) if degrees else float(theta)
    return np.array([np.cos(t), np.sin(t)])


def angle_of(v: Sequence[float] | np.ndarray, *, degrees: bool = True) -> float:
    """θ = atan2(v₂, v₁) of a 2-objective direction (inverse of :func:`direction_from_angle`)."""
    u = unit_direction(v)
    if u.size != 2:
        raise DataError(f"an angle needs a 2-objective direction, got {u.size}",
                        field="direction")
    t = float(np.arctan2(u[1], u[0]))
    return float(np.rad2deg(t)) if degrees else t


def directional_reward(rewards: np.ndarray, v: Sequence[float] | np.ndarray) -> np.ndarray:
    """R = r·v for an (n, k) array of objective vectors (or one (k,) vector); v is normalised."""
    r = np.asarray(rewards, dtype=float)
    u = unit_direction(v)
    if r.shape[-1] != u.size:
        raise DataError(f"rewards have {r.shape[-1]} objectives but the direction has {u.size}",
                        field="direction")
    return r @ u


def direction_weights(v: Sequence[float] | np.ndarray) -> list[int]:
    """Integer weights w = round(100·v/‖v‖) as written into the system prompt."""
    return [round(float(100 * x)) for x in unit_direction(v)]


def direction_system_prompt(
    v: Sequence[float] | np.ndarray,
    names: Sequence[str] = ("helpfulness", "verbosity"),
    *,
    preamble: str = DEFAULT_PREAMBLE,
) -> str:
    """The system prompt that tells a DPA policy its direction, e.g. for θ = −15°:
    ``"<preamble> Your response should maximize weighted rating = helpfulness*97 +
    verbosity*-26"``."""
    w = direction_weights(v)
    if len(names) != len(w):
        raise DataError(f"{len(names)} objective names for a {len(w)}-objective direction",
                        field="direction")
    expression = " + ".join(f"{name}*{weight}" for name, weight in zip(names, w, strict=True))
    head = f"{preamble} " if preamble else ""
    return f"{head}Your response should maximize weighted rating = {expression}"
