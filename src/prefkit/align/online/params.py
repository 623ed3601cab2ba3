"""Declared settings of the online methods (``--algo-param KEY=VALUE``) and their one reader.

Each method of :mod:`.algorithms` declares the keys it accepts as :class:`Param` — a kind
(``float``, ``int``, ``bool``, ``str``, ``file``, ``strs``: several strings, ``floats``: several
numbers), a default, and the allowed values (a range ``ge``/``gt``/``le``/``lt`` or ``choices``).
:func:`check_algo_params` checks a run's ``algo_params`` against them before anything is
written (``OnlineConfig.check``), and :func:`param` is the one place a step reads a setting,
converted by the same declaration.  Every problem is an :class:`AlgoParamError`, one line::

    --algo-param: pf-ppo: strategy='top': expected one of best-random, best-worst, best-of-n

A method registered without declarations (a plug-in, :func:`.algorithms.register_algorithm`)
accepts any keys; it may still read them through :func:`param` with a :class:`Param` of its own.
No torch here: the configuration is checked before any model is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefkit.errors import DataError

KINDS = ("float", "int", "bool", "str", "file", "strs", "floats")


class AlgoParamError(DataError):
    """An ``--algo-param`` setting the method does not know or cannot use (one line)."""

    def __init__(self, algo: str, reason: str) -> None:
        super().__init__(f"{algo}: {reason}", source="--algo-param")


@dataclass(frozen=True)
class Param:
    """One setting of a method: its kind, default, allowed values and a few words of help.

    ``default`` is returned as it is when the key is absent (``None``: unset, the method decides);
    ``ge``/``gt``/``le``/``lt`` bound numbers (each number of ``floats``), ``choices`` lists the
    allowed strings."""

    kind: str
    default: Any = None
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown setting kind {self.kind!r} (expected {', '.join(KINDS)})")

    def convert(self, algo: str, key: str, value: Any) -> Any:
        """``value`` as this setting's kind, checked (AlgoParamError naming algo and key)."""
        if value is None and self.default is None:
            return None  # unset: the method's own choice
        try:
            out = _CONVERT[self.kind](value)
        except (TypeError, ValueError):
            raise AlgoParamError(algo, f"{key}={value!r}: expected {_ARTICLE[self.kind]}"
                                 ) from None
        self._check(algo, key, value, out)
        return out

    def _check(self, algo: str, key: str, raw: Any, value: Any) -> None:
        items = value if self.kind in ("strs", "floats") else [value]
        for item in items:
            problem = self._problem(item)
            if problem:
                raise AlgoParamError(algo, f"{key}={raw!r}: {problem}")
        if self.kind == "file" and not Path(value).is_file():
            raise AlgoParamError(algo, f"{key}={raw!r}: no such file")

    def _problem(self, item: Any) -> str | None:
        if self.choices is not None and item not in self.choices:
            return f"expected one of {', '.join(self.choices)}"
        if isinstance(item, str):
            return None
        for bound, ok, word in ((self.ge, lambda b: item >= b, ">="),
                                (self.gt, lambda b: item > b, ">"),
                                (self.le, lambda b: item <= b, "<="),
                                (self.lt, lambda b: item < b, "<")):
            if bound is not None and not ok(bound):
                return f"must be {word} {bound:g}"
        return None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):  # None too
        raise TypeError(value)
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(value)
    return out


def _integer(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip())
    number = _number(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(value)


def _string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(value)
    return str(value)


def _strings(value: Any) -> tuple[str, ...]:
    """A JSON list or a comma-separated string → stripped strings, empty ones dropped."""
    items = value if isinstance(value, (list, tuple)) else _string(value).split(",")
    return tuple(v for v in (_string(item).strip() for item in items) if v)


def _numbers(value: Any) -> tuple[float, ...]:
    """A number, a JSON list of numbers or comma-separated numbers."""
    if isinstance(value, (list, tuple)):
        return tuple(_number(v) for v in value)
    if isinstance(value, str):
        return tuple(_number(v) for v in value.split(","))
    return (_number(value),)


_CONVERT = {"float": _number, "int": _integer, "bool": _boolean, "str": _string,
            "file": _string, "strs": _strings, "floats": _numbers}
_ARTICLE = {"float": "a finite number", "int": "an integer", "bool": "true or false",
            "str": "a string", "file": "a file name", "strs": "a list of names (a,b or [..])",
            "floats": "a number or a list of numbers (1,2 or [..])"}


def check_algo_params(algo: str, params: Mapping[str, Any],
                      declared: Mapping[str, Param] | None) -> dict[str, Any]:
    """Every setting of ``params`` converted by ``declared`` (the method's declarations;
    ``None``: an undeclared plug-in, anything goes).  AlgoParamError, one line, for a key the
    method does not take (listing those it does), a value of the wrong kind or out of range."""
    if declared is None:
        return dict(params)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        if not declared:
            raise AlgoParamError(algo, f"takes no --algo-param settings (got {unknown[0]!r})")
        raise AlgoParamError(algo, f"unknown key {unknown[0]!r} (accepted: "
                                   f"{', '.join(declared)})")
    return {key: declared[key].convert(algo, key, value) for key, value in params.items()}


def param(trainer: Any, key: str, spec: Param | None = None) -> Any:
    """The run's setting ``key`` — its checked value, or its default when absent — for a
    trainer (or a config).  Driven by the method's declarations
    (:func:`~prefkit.align.online.algorithms.method_settings`: every setting and the rules
    across them are checked on each read); a method without declarations passes ``spec``."""
    from prefkit.align.online.algorithms import declared_params, method_settings

    cfg = getattr(trainer, "config", trainer)
    if spec is not None:
        if key not in cfg.algo_params:
            return spec.default
        return spec.convert(cfg.algo, key, cfg.algo_params[key])
    values = method_settings(cfg)
    if declared_params(cfg.algo) is None or key not in values:
        raise KeyError(f"{cfg.algo} declares no setting {key!r}")
    return values[key]
