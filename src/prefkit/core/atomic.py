"""Atomic writes that never leave half a file and never delete what prefkit did not write.

Files: :func:`atomic_path` yields a temporary path beside the target and renames it over the
target only when the block succeeds.  The result gets the mode an ordinary ``open()`` would give
(``0o666 & ~umask``), or keeps the mode of the file it replaces.

Directories: :func:`publish_dir` builds a directory in a temporary sibling and moves it into
place.  Every directory it publishes holds a manifest, ``.prefkit-manifest.json``, listing the
files prefkit wrote.  An existing target is

* used as is when it is empty;
* replaced only when ``overwrite=True`` *and* everything in it is listed in its manifest (a
  directory prefkit wrote and nobody added to);
* refused otherwise, with a one-line :class:`~prefkit.errors.ModelFileError` — so ``--out .`` or
  ``--out ~/project`` can never wipe anyone's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prefkit.errors import ModelFileError

#: prefix of every temporary file or directory prefkit creates beside a target
TEMP_PREFIX = ".prefkit-tmp-"
#: file listing what prefkit wrote into a published directory
MANIFEST = ".prefkit-manifest.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _final_mode(path: str, default: int = 0o666) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return default & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    Nothing half-written is ever left at ``path``: on any error the temporary file is removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=Path(path).suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars and arrays."""
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def atomic_write_json(path: str | os.PathLike[str], value: Any, *, indent: int | None = 2) -> None:
    """Write ``value`` as JSON (numpy values converted; NaN refused: it is not JSON)."""
    text = json.dumps(value, indent=indent, sort_keys=True, default=json_default, allow_nan=False)
    atomic_write_text(path, text + "\n")


# ---------------------------------------------------------------------------------- directories
def _listing(root: Path) -> list[str]:
    """Relative paths of every file under ``root`` (directories implied), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames.sort()
        for name in sorted(filenames):
            out.append((rel / name).as_posix())
        for name in dirnames:
            full = Path(dirpath) / name
            if full.is_symlink():
                out.append((rel / name).as_posix())
    return [p for p in out if p != MANIFEST]


def read_manifest(directory: str | os.PathLike[str]) -> list[str] | None:
    """Files prefkit recorded as written into ``directory``, or None if it holds no manifest."""
    path = Path(directory) / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8")[: 1 << 24])
    except (OSError, ValueError, RecursionError):
        return None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def is_prefkit_dir(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` holds only files that its prefkit manifest lists."""
    path = Path(directory)
    if not path.is_dir() or path.is_symlink():
        return False
    files = read_manifest(path)
    if files is None:
        return False
    return set(_listing(path)) <= set(files)


def check_output_dir(final: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that prefkit may write the directory ``final``; raise a one-line error if not.

    Allowed: a path that does not exist, an empty directory, or (with ``overwrite``) a directory
    prefkit wrote (manifest covers all of it).  Call it before long work, so a bad ``--out``
    fails at once.
    """
    path = Path(final)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise ModelFileError(f"{path}: exists and is not a directory; choose another output")
    if not path.exists() or not any(path.iterdir()):
        return path
    if not is_prefkit_dir(path):
        raise ModelFileError(
            f"{path}: directory is not empty and was not written by prefkit; "
            "choose a new or empty output directory"
        )
    if not overwrite:
        raise ModelFileError(
            f"{path}: holds a saved prefkit model already; pass --force (overwrite=True) "
            "to replace it"
        )
    return path


def publish_dir(
    build: Callable[[Path], Any],
    final: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Build a directory with ``build(tmp)`` and move it to ``final`` (see the module notes).

    ``final`` is checked (:func:`check_output_dir`) before ``build`` runs.  On any error the
    temporary directory is removed and ``final`` is left as it was.
    """
    path = check_output_dir(final, overwrite=overwrite)
    parent = path.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        build(tmp)
        _normal_modes(tmp)
        files = _listing(tmp)
        manifest = {"files": files, "written_by": "prefkit", "time": time.time()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.chmod(tmp / MANIFEST, 0o666 & ~_umask())
        if not path.exists():
            os.replace(tmp, path)
            return path
        _swap_into(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def publish_files(build: Callable[[Path], Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Write a set of files into ``directory`` all or nothing: ``build(tmp)`` writes them in a
    temporary directory beside; only when it returns are they moved into place (the directory
    itself, when it is new).  Other files in ``directory`` are never touched; files of the same
    names are replaced.  Returns the paths written."""
    final = Path(directory)
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise ModelFileError(f"{final}: exists and is not a directory; choose another output")
    existed = final.is_dir()
    parent = final if existed else final.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    try:
        build(tmp)
        _normal_modes(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        names = sorted(p.name for p in tmp.iterdir())
        if existed:
            for name in names:
                os.replace(tmp / name, final / name)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [final / name for name in names]


def _normal_modes(root: Path) -> None:
    """Give what prefkit wrote the modes ``open()`` would (some writers, e.g. safetensors, use
    0600 whatever the umask)."""
    mask = _umask()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                os.chmod(full, 0o777 & ~mask)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                os.chmod(full, 0o666 & ~mask)


def _swap_into(tmp: Path, final: Path) -> None:
    """Move ``tmp``'s entries into the existing ``final`` (empty or prefkit-owned).

    Old prefkit-owned entries go to a trash directory first and are deleted only at the end.
    """
    trash = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=final.absolute().parent))
    try:
        for entry in list(final.iterdir()):  # verified by check_output_dir: all prefkit's
            os.replace(entry, trash / entry.name)
        for entry in list(tmp.iterdir()):
            os.replace(entry, final / entry.name)
    except BaseException:
        for entry in list(trash.iterdir()):  # put the old model back
            with contextlib.suppress(OSError):
                target = final / entry.name
                if target.exists():
                    if target.is_dir():
                        shutil.rmtree(target)
                    else:
                        target.unlink()
                os.replace(entry, target)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def clean_stale_temps(
    directory: str | os.PathLike[str],
    *,
    prefixes: tuple[str, ...] = (TEMP_PREFIX,),
    min_age_s: float = 60.0,
) -> list[str]:
    """Remove temporary files/directories prefkit left in ``directory`` (e.g. after a kill).

    Only entries whose names start with one of ``prefixes`` and that were not modified in the
    last ``min_age_s`` seconds (so a concurrent writer is left alone).  Returns the names removed.
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    removed = []
    now = time.time()
    for entry in root.iterdir():
        if not entry.name.startswith(prefixes):
            continue
        try:
            if now - entry.lstat().st_mtime < min_age_s:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry.name)
    return removed
