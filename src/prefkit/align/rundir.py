"""The files of an alignment run directory, written so that nothing else is ever lost.

Layout of ``OUT/``: ``align_config.json`` (configuration, base, step, history), ``policy/``
(the trained model + tokenizer in plain Hugging Face format), ``checkpoints/step-N/`` (weights,
AdamW state, RNG, history), ``reference_logps.safetensors`` and ``kto_kl_reference.safetensors``
(cached reference log-probabilities).

Directories are published with :func:`prefkit.core.atomic.publish_dir` (built in a temporary
sibling, moved into place, with a manifest of the files prefkit wrote): an existing ``policy/``
or ``step-N/`` is replaced only when prefkit wrote it — by its manifest, or for a 0.1 run, a
policy folder beside ``align_config.json`` / a checkpoint holding nothing but checkpoint files —
and anything else is refused with one line before training starts.  Files are written through
:func:`prefkit.core.atomic.atomic_path`.  A killed run leaves temporaries behind;
:func:`clean_run_temps` removes them (only names prefkit gives its temporaries:
``.prefkit-tmp-*`` and 0.1's ``.step-N.*``, ``.policy.*``, ``.<run file>.tmp``) when the next
run in the directory starts.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefkit.core.atomic import (
    TEMP_PREFIX,
    atomic_path,
    atomic_write_text,
    check_output_dir,
    clean_stale_temps,
    publish_dir,
    read_manifest,
)
from prefkit.errors import ModelFileError

CONFIG_FILE = "align_config.json"
REFERENCE_FILE = "reference_logps.safetensors"
#: KTO without a reference model: the initial policy's side of every micro-batch's KL estimate
KL_REFERENCE_FILE = "kto_kl_reference.safetensors"
POLICY_DIR = "policy"
CHECKPOINT_DIR = "checkpoints"
#: the files of one checkpoint directory
CHECKPOINT_FILES = frozenset({"trainable.safetensors", "optimizer.safetensors", "state.json"})
#: names of the temporaries prefkit 0.1 wrote (besides core's ``.prefkit-tmp-``)
LEGACY_TEMP_PREFIXES = (".step-", ".policy.", f".{CONFIG_FILE}.", f".{REFERENCE_FILE}.",
                        f".{KL_REFERENCE_FILE}.")


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, atomically (NaN kept: a history may hold a NaN grad norm)."""
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True))


def _legacy_policy(path: Path) -> bool:
    """The ``policy/`` of a run prefkit 0.1 wrote (no manifest yet)."""
    return (path.parent / CONFIG_FILE).is_file() and (path / "config.json").is_file()


def _legacy_checkpoint(path: Path) -> bool:
    return all(p.name in CHECKPOINT_FILES and p.is_file() for p in path.iterdir())


def _legacy(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink() or read_manifest(path) is not None:
        return False
    return _legacy_checkpoint(path) if path.parent.name == CHECKPOINT_DIR else _legacy_policy(
        path)


def check_run_dir(out_dir: Path) -> None:
    """Refuse (one line) an ``out_dir`` whose ``policy/`` prefkit did not write — before the
    long work, not after it."""
    policy = out_dir / POLICY_DIR
    if not _legacy(policy):
        check_output_dir(policy, overwrite=True)


def publish(build: Callable[[Path], Any], final: Path) -> Path:
    """Build the directory ``final`` with ``build(tmp)`` and move it into place, replacing a
    previous one only if prefkit wrote it (see the module docstring)."""
    if not _legacy(final):
        return publish_dir(build, final, overwrite=True)
    aside = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=final.parent))
    os.replace(final, aside / final.name)
    try:
        path = publish_dir(build, final, overwrite=True)
    except BaseException:
        os.replace(aside / final.name, final)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    return path


def clean_run_temps(out_dir: str | os.PathLike[str], *, min_age_s: float = 60.0) -> list[str]:
    """Remove the temporaries a killed run left in ``out_dir`` and ``out_dir/checkpoints``
    (untouched for ``min_age_s`` seconds, so a live writer is left alone); returns their names."""
    prefixes = (TEMP_PREFIX, *LEGACY_TEMP_PREFIXES)
    removed = []
    for folder in (Path(out_dir), Path(out_dir) / CHECKPOINT_DIR):
        removed += clean_stale_temps(folder, prefixes=prefixes, min_age_s=min_age_s)
    return removed


def latest_checkpoint(out_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (None if there is none)."""
    root = Path(out_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def load_policy(out_dir: str | os.PathLike[str]) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, saved run info) of a trained run directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir)
    if not (out / CONFIG_FILE).is_file() or not (out / POLICY_DIR).is_dir():
        raise ModelFileError(f"{out}: not a prefkit align run (no {CONFIG_FILE} / {POLICY_DIR}/)")
    try:
        info = json.loads((out / CONFIG_FILE).read_text())
    except (OSError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{out / CONFIG_FILE}: unreadable ({err})") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ModelFileError(f"{out / CONFIG_FILE}: not an align run configuration")
    model = AutoModelForCausalLM.from_pretrained(os.fspath(out / POLICY_DIR))
    tokenizer = AutoTokenizer.from_pretrained(os.fspath(out / POLICY_DIR))
    return model, tokenizer, info


def load_cached(cache: str | os.PathLike[str] | None, fingerprint: str) -> dict[str, Any] | None:
    """The tensors of a cache file whose ``fingerprint`` metadata matches, else None (also for
    a file safetensors cannot read: it is then recomputed and rewritten)."""
    if cache is None or not Path(cache).is_file():
        return None
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(os.fspath(cache), "pt") as f:
            meta = f.metadata() or {}
        if meta.get("fingerprint") != fingerprint:
            return None
        return load_file(os.fspath(cache))
    except (OSError, ValueError, SafetensorError):
        return None


def save_cached(cache: str | os.PathLike[str], tensors: dict[str, Any], fingerprint: str) -> None:
    """Write ``tensors`` with their ``fingerprint`` to the cache file ``cache`` atomically."""
    from safetensors.torch import save_file

    with atomic_path(cache) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp,
                  metadata={"fingerprint": fingerprint})


def adopt_run(source: Path, out: Path) -> None:
    """Make ``out`` the run of ``source`` (a finished run directory, e.g. a curriculum's last
    stage): its policy and ``align_config.json``, replacing only what prefkit wrote."""
    from prefkit.core.atomic import MANIFEST, atomic_write_bytes

    def build(tmp: Path) -> None:
        shutil.copytree(source / POLICY_DIR, tmp, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(MANIFEST, f"{TEMP_PREFIX}*"))

    publish(build, out / POLICY_DIR)
    atomic_write_bytes(out / CONFIG_FILE, (source / CONFIG_FILE).read_bytes())
