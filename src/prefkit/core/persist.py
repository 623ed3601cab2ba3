"""One directory format and one ``save`` / ``load`` for every prefkit model — never pickle.

A saved model is a directory::

    config.json          {"format": "prefkit", "version": 2, "class": "<tag>",
                          "prefkit_version": "...", "config": {...}}
    arrays.safetensors   the learned arrays (numpy, safetensors format)
    ...                  extra files a class writes (e.g. a Hugging Face model folder)
    .prefkit-manifest.json   what prefkit wrote (so a re-save replaces only that)

A persistable class implements ``_get_state() -> (config, arrays)``, optionally
``_write_extra(directory) -> None``, and the classmethod ``_from_state(config, arrays, directory,
**kw)``; it is registered with ``@register("layer.ClassName")`` *and* listed in
:data:`prefkit.core.registry.KNOWN_CLASSES`.

Loading cannot run code: the config is read with size and depth limits from a regular file,
its ``class`` must be a tag of the fixed registry table (nothing named in a file is imported),
arrays are read through safetensors (or, for 0.1 directories, ``np.load(allow_pickle=False)``
after checking each array's size), and every problem is one line of
:class:`~prefkit.errors.ModelFileError`.  Directories written by prefkit 0.1 (per-layer formats)
are recognised and opened by the class's ``_from_legacy(directory, **kw)``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from prefkit.core.atomic import json_default, publish_dir
from prefkit.core.limits import LIMITS, read_config, regular_file
from prefkit.core.registry import KNOWN_CLASSES
from prefkit.errors import ModelFileError

FORMAT = "prefkit"
VERSION = 2
CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.safetensors"

_REGISTRY: dict[str, type] = {}


def register(tag: str) -> Callable[[type], type]:
    """Class decorator: make a model class savable and loadable under ``tag``."""
    if tag not in KNOWN_CLASSES:
        raise ValueError(f"add {tag!r} to prefkit.core.registry.KNOWN_CLASSES")

    def decorate(cls: type) -> type:
        cls._prefkit_tag = tag  # type: ignore[attr-defined]
        _REGISTRY[tag] = cls
        return cls

    return decorate


def resolve(tag: Any, where: str | os.PathLike[str] = "") -> type:
    """The class registered under ``tag``, importing only the module the fixed table names."""
    if not isinstance(tag, str) or tag not in KNOWN_CLASSES:
        raise ModelFileError(f"{where}: unknown model class {tag!r} (not in prefkit's registry)")
    if tag not in _REGISTRY:
        module, _, name = KNOWN_CLASSES[tag].partition(":")
        try:
            importlib.import_module(module)
        except ImportError as err:
            extra = "align" if module.startswith("prefkit.align") else "text"
            raise ModelFileError(
                f"{where}: a {tag} model needs packages that are not installed ({err.name}); "
                f"install prefkit[{extra}]"
            ) from None
        if tag not in _REGISTRY:  # the module defines the class but did not register it
            _REGISTRY[tag] = getattr(importlib.import_module(module), name)
    return _REGISTRY[tag]


def tag_of(model: Any) -> str:
    tag = getattr(type(model), "_prefkit_tag", None)
    if tag is None or _REGISTRY.get(tag) is not type(model):
        raise ModelFileError(f"{type(model).__name__} is not a registered prefkit model class")
    return tag


# ---------------------------------------------------------------------------------- arrays
def write_arrays(path: str | os.PathLike[str], arrays: dict[str, Any]) -> None:
    """Numpy arrays → safetensors (no object or string arrays: those belong in the config)."""
    from safetensors.numpy import save_file

    clean = {}
    for name, value in arrays.items():
        if value is None:
            continue
        arr = np.ascontiguousarray(np.asarray(value))
        if arr.dtype == object or arr.dtype.kind in "USO":
            raise TypeError(f"array {name!r} has dtype {arr.dtype}; store strings in the config")
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        clean[name] = arr
    save_file(clean, os.fspath(path))


def read_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays of a safetensors file, each size checked against its header before loading."""
    from safetensors import SafetensorError, safe_open

    p = regular_file(path, "array file")
    size = p.stat().st_size
    if size > LIMITS.max_array_bytes:
        raise ModelFileError(f"{p}: larger than {LIMITS.describe('max_array_bytes')}")
    out: dict[str, np.ndarray] = {}
    try:
        with safe_open(os.fspath(p), framework="numpy") as fh:
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a mapping)
                shape = fh.get_slice(key).get_shape()
                if int(np.prod(shape, dtype=np.float64)) > LIMITS.max_array_bytes:
                    raise ModelFileError(f"{p}: array {key!r} has an impossible shape {shape}")
                out[key] = fh.get_tensor(key)
    except SafetensorError as err:
        raise ModelFileError(f"{p}: not a valid safetensors file ({err})") from None
    except (OSError, ValueError, TypeError) as err:
        raise ModelFileError(f"{p}: unreadable arrays ({err})") from None
    return out


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (prefkit 0.1): no pickle, each member's size checked first."""
    p = regular_file(path, "array file")
    try:
        with zipfile.ZipFile(p) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                if total > LIMITS.max_array_bytes:
                    raise ModelFileError(
                        f"{p}: arrays expand beyond {LIMITS.describe('max_array_bytes')}"
                    )
        with np.load(p, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{p}: unreadable arrays ({err})") from None


def read_legacy_layer(
    directory: str | os.PathLike[str], layer: str, cls_name: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Config and arrays of a prefkit 0.1 directory of ``layer`` (``choice`` / ``plural``)
    holding a ``cls_name``: ``{"format": "prefkit.<layer>", "class": ...}`` + ``arrays.npz``."""
    path = Path(directory)
    config = read_config(path / CONFIG_FILE)
    if config.get("format") != f"prefkit.{layer}":
        raise ModelFileError(f"{path}: not a prefkit 0.1 {layer} model")
    if config.get("class") != cls_name:
        raise ModelFileError(f"{path}: holds a {config.get('class')}, not a {cls_name}")
    return config, read_npz(path / "arrays.npz")


def expect_array(
    arrays: dict[str, np.ndarray],
    name: str,
    shape: tuple[int | None, ...] | None = None,
    *,
    where: str | os.PathLike[str] = "",
    kind: str = "fiub",
) -> np.ndarray:
    """``arrays[name]`` checked: present, numeric (``kind``), of ``shape`` (None = any size)."""
    if name not in arrays:
        raise ModelFileError(f"{where}: array {name!r} is missing")
    arr = arrays[name]
    if arr.dtype.kind not in kind:
        raise ModelFileError(f"{where}: array {name!r} has dtype {arr.dtype}")
    if shape is not None and (
        arr.ndim != len(shape)
        or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=False))
    ):
        raise ModelFileError(f"{where}: array {name!r} has shape {arr.shape}, expected {shape}")
    return arr


def config_value(config: dict[str, Any], key: str, types: type | tuple[type, ...], where: Any = ""):
    """``config[key]`` checked for presence and type (one-line ModelFileError otherwise)."""
    if key not in config:
        raise ModelFileError(f"{where}: config has no {key!r}")
    value = config[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        raise ModelFileError(f"{where}: config {key!r} has the wrong type {type(value).__name__}")
    return value


def saved_params(
    cls: type, config: dict[str, Any], where: Any = "", *, renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The hyper-parameters saved under ``config["params"]``, checked against ``cls.__init__``
    (an unknown name is a one-line ModelFileError); ``renamed`` maps old names to new ones."""
    params = dict(config_value(config, "params", dict, where))
    for old, new in (renamed or {}).items():
        if old in params and new not in params:
            params[new] = params.pop(old)
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelFileError(f"{where}: unknown hyper-parameter {unknown[0]!r}")
    return params


def malformed(where: Any, err: BaseException) -> ModelFileError:
    """A one-line ModelFileError for a KeyError / TypeError / ValueError met while rebuilding."""
    if isinstance(err, KeyError):
        return ModelFileError(f"{where}: malformed saved model: {err.args[0]!r} is missing")
    return ModelFileError(f"{where}: malformed saved model: {' '.join(str(err).split())}")


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


# ---------------------------------------------------------------------------------- save / load
def save(model: Any, directory: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Save ``model`` to ``directory``: config.json + arrays.safetensors (+ the class's extras).

    The directory is built beside the target and moved into place (see
    :func:`prefkit.core.atomic.publish_dir`): a directory holding files prefkit did not write is
    refused, never emptied; a prefkit model directory is replaced only when ``overwrite``.
    """
    from prefkit import __version__

    tag = tag_of(model)
    config, arrays = model._get_state()
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "class": tag,
        "prefkit_version": __version__,
        "config": config,
    }
    text = json.dumps(doc, indent=2, sort_keys=True, default=json_default, allow_nan=False)

    def build(tmp: Path) -> None:
        if arrays:
            write_arrays(tmp / ARRAYS_FILE, arrays)
        extra = getattr(model, "_write_extra", None)
        if callable(extra):
            extra(tmp)
        (tmp / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")

    return publish_dir(build, directory, overwrite=overwrite)


@functools.cache
def _header_model() -> type:
    """The pydantic model of a ``config.json`` header (built on first use: pydantic's import
    is kept off the command line's start-up path)."""
    from pydantic import BaseModel, ConfigDict, Field

    class SavedHeader(BaseModel):
        """The checked header (strict types: no coercion of ``"2"`` to 2)."""

        model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)

        format: Literal["prefkit"]
        version: int = Field(ge=1)
        class_: str = Field(alias="class", max_length=200)
        config: dict[str, Any]

    return SavedHeader


def _header(doc: dict[str, Any], where: Path) -> Any:
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ModelFileError(
            f"{where}: format version {version} is newer than this prefkit reads ({VERSION}); "
            "upgrade prefkit"
        )
    if "class" in doc and not (isinstance(doc["class"], str) and doc["class"] in KNOWN_CLASSES):
        raise ModelFileError(
            f"{where}: unknown model class {doc['class']!r} (not in prefkit's registry)"
        )
    from pydantic import ValidationError

    try:
        return _header_model().model_validate(doc)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "document"
        raise ModelFileError(f"{where}: field {field!r}: {first['msg']}") from None


def _legacy_tag(path: Path, doc: dict[str, Any] | None) -> str | None:
    """The registry tag of a prefkit 0.1 directory, or None."""
    if doc is not None:
        fmt = doc.get("format")
        if fmt in ("prefkit.choice", "prefkit.plural") and isinstance(doc.get("class"), str):
            return f"{fmt.split('.', 1)[1]}.{doc['class']}"
        if doc.get("type") == "RewardModel":
            return "reward.RewardModel"
    if (path / "prefkit_rm.json").is_file():
        return "reward.TransformerRewardModel"
    if (path / "align_config.json").is_file() and (path / "policy").is_dir():
        return "align.DPOPolicy"
    return None


def load(directory: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Open any saved prefkit model directory and return the model of the right class.

    ``kwargs`` go to the class (e.g. ``encoder=`` for reward models, ``reference=`` for
    policies).  Raises :class:`~prefkit.errors.ModelFileError` (one line) for a missing,
    foreign, tampered or unknown directory; nothing named in the directory is imported.
    """
    path = Path(directory)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model directory")
    if not path.is_dir():
        raise ModelFileError(f"{path}: not a directory (a saved model is a directory)")
    config_path = path / CONFIG_FILE
    doc = read_config(config_path) if config_path.exists() else None
    if doc is not None and doc.get("format") == FORMAT:
        header = _header(doc, config_path)
        cls = resolve(header.class_, config_path)
        config = header.config
        arrays_path = path / ARRAYS_FILE
        arrays = read_arrays(arrays_path) if arrays_path.exists() else {}
        try:
            return cls._from_state(config, arrays, path, **kwargs)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ModelFileError(
                f"{config_path}: malformed {cls.__name__} ({type(err).__name__}: {err})"
            ) from None
    tag = _legacy_tag(path, doc)
    if tag is None:
        raise ModelFileError(f"{path}: not a saved prefkit model (no prefkit config.json)")
    cls = resolve(tag, path)
    legacy = getattr(cls, "_from_legacy", None)
    if not callable(legacy):
        raise ModelFileError(
            f"{path}: a {tag} directory written by prefkit 0.1, which this version cannot read; "
            "re-train it"
        )
    try:
        return legacy(path, **kwargs)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ModelFileError(
            f"{path}: malformed 0.1 {tag} model ({type(err).__name__}: {err})"
        ) from None
