"""Pre-flight checks of ``prefkit align train``: problems found before any training starts.

* :func:`unknown_token_share` / :func:`check_vocabulary` — a sample of the data's texts is
  tokenised with the base model's tokenizer and the share of ``unk`` tokens counted.  Text the
  tokenizer cannot represent (another language or script, a word-level tokenizer such as the tiny
  test model's meeting unseen words) trains "successfully" on sequences of ``<unk>``, learning
  nothing: at or above :data:`REFUSE_UNK_SHARE` the run is refused, at or above
  :data:`WARN_UNK_SHARE` a warning is returned.  Tokenizers without an unknown token (byte-level
  BPE) can represent any text and always pass.
* :func:`check_distributed_env` — ``WORLD_SIZE`` > 1 needs a rendezvous (``MASTER_ADDR`` and
  ``MASTER_PORT``, plus ``RANK``), which ``torchrun`` / ``accelerate launch`` set; without it,
  torch's process-group set-up fails deep inside, so the launch is refused with what to run.
* :func:`check_run_directory` — ``--out`` may only be an empty or new directory, or one holding
  an earlier align run (continued with ``--resume``, replaced with ``--force``); prefkit never
  deletes files it did not write.

Every refusal is a one-line :class:`~prefkit.errors.PrefkitError` (exit status 2 in the CLI).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.errors import DataError, ModelFileError, PrefkitError

#: Share of unknown tokens at or above which training is refused.
REFUSE_UNK_SHARE = 0.9
#: Share of unknown tokens at or above which a warning is printed.
WARN_UNK_SHARE = 0.2
#: Texts tokenised for the check (a random sample when the data has more).
SAMPLE_TEXTS = 256

#: Columns whose strings (or lists of strings) are tokenised by the trainer.
TEXT_COLUMNS = ("prompt", "a_text", "b_text", "text", "texts")


class LaunchError(PrefkitError, RuntimeError):
    """The processes of a distributed run were not launched with a rendezvous."""


def sample_texts(dataset: Any, *, size: int = SAMPLE_TEXTS, seed: int = 0) -> list[str]:
    """Up to ``size`` non-empty texts of ``dataset``'s text columns (a seeded random sample)."""
    texts: list[str] = []
    for name in TEXT_COLUMNS:
        if not dataset.has(name):
            continue
        for value in dataset.column(name):
            if value is None:
                continue
            if isinstance(value, str):
                texts.append(value)
            else:  # a list of texts (ranking data)
                texts.extend(str(v) for v in value if v is not None)
    texts = [t for t in texts if t.strip()]
    if len(texts) > size:
        pick = np.random.default_rng(seed).choice(len(texts), size=size, replace=False)
        texts = [texts[i] for i in sorted(pick)]
    return texts


def unknown_token_share(tokenizer: Any, texts: Sequence[str]) -> float | None:
    """Share of the tokens of ``texts`` that are the tokenizer's unknown token.

    None when the tokenizer has no unknown token or the texts have no tokens.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return None
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    total = sum(len(row) for row in ids)
    if total == 0:
        return None
    return sum(int(np.count_nonzero(np.asarray(row) == unk)) for row in ids) / total


def check_vocabulary(
    tokenizer: Any,
    dataset: Any,
    *,
    source: str | None = None,
    refuse_at: float = REFUSE_UNK_SHARE,
    warn_at: float = WARN_UNK_SHARE,
    sample_size: int = SAMPLE_TEXTS,
) -> str | None:
    """Refuse (:class:`DataError`) data the tokenizer maps (nearly) all to its unknown token.

    Returns a one-line warning when the share of unknown tokens in a sample of the texts is at
    least ``warn_at``, else None.
    """
    texts = sample_texts(dataset, size=sample_size)
    share = unknown_token_share(tokenizer, texts)
    if share is None or share < warn_at:
        return None
    unk = getattr(tokenizer, "unk_token", None) or "unk"
    what = (f"{share:.0%} of the tokens of {len(texts)} sampled texts are the tokenizer's "
            f"unknown token {unk}")
    if share >= refuse_at:
        raise DataError(f"{what}: the base model cannot read this text, so training would learn "
                        "nothing; use a base model whose tokenizer covers the data's language",
                        source=source or getattr(dataset, "name", None))
    return f"{what}; the policy will not see that part of the text"


def check_distributed_env(environ: Mapping[str, str] | None = None) -> int:
    """The number of processes (``WORLD_SIZE``, default 1), refusing an incomplete launch."""
    env = os.environ if environ is None else environ
    raw = env.get("WORLD_SIZE", "1").strip() or "1"
    try:
        world = int(raw)
    except ValueError:
        raise LaunchError(f"WORLD_SIZE={raw!r} is not a whole number of processes") from None
    if world < 1:
        raise LaunchError(f"WORLD_SIZE={world} must be at least 1")
    if world == 1:
        return 1
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT", "RANK") if not env.get(name)]
    if missing:
        raise LaunchError(
            f"WORLD_SIZE={world} but {', '.join(missing)} not set: start the {world} processes "
            f"with 'torchrun --nproc-per-node {world} -m prefkit align train …' or "
            "'accelerate launch -m prefkit align train …' (they set the rendezvous), or unset "
            "WORLD_SIZE to train in one process")
    return world


# ------------------------------------------------------------------------ run directory
#: What ``prefkit align train`` writes into a run directory (names, and temp-name prefixes).
RUN_ENTRIES = frozenset({
    "align_config.json", "policy", "checkpoints", "reference_logps.safetensors",
    "kto_kl_reference.safetensors", "stages", "base",
})
RUN_TEMP_PREFIXES = (".policy.", ".align_config.json.", ".reference_logps.safetensors.",
                     ".kto_kl_reference.safetensors.", ".prefkit-tmp-")
#: The file that marks a (complete) align run directory.
RUN_MARKER = "align_config.json"


def _is_run_entry(name: str) -> bool:
    return name in RUN_ENTRIES or name.startswith(RUN_TEMP_PREFIXES)


def _foreign_file(path: Path) -> Path | None:
    """A file under ``path`` that an align run did not write (None if prefkit owns it all).

    Owned: a directory with a prefkit manifest covering it (:func:`~prefkit.core.atomic.
    is_prefkit_dir`), a policy or checkpoint folder of a 0.1 run, run files and temporaries, and
    directories made only of those (``checkpoints/``, ``stages/``).
    """
    from prefkit.align.rundir import CHECKPOINT_FILES, _legacy
    from prefkit.core.atomic import MANIFEST, is_prefkit_dir

    if path.is_symlink() or not path.is_dir():
        owned = path.name in CHECKPOINT_FILES or path.name == MANIFEST or _is_run_entry(path.name)
        return None if owned else path
    if is_prefkit_dir(path) or _legacy(path):
        return None
    for child in sorted(path.iterdir()):
        found = _foreign_file(child)
        if found is not None:
            return found
    return None


def check_run_directory(
    out: Path, *, resume: bool = False, force: bool = False, keep: Sequence[Path] = ()
) -> None:
    """Make ``out`` ready for a run, or refuse it (:class:`ModelFileError`, one line).

    * missing or empty: fine;
    * a directory that holds only what an align run writes (:data:`RUN_ENTRIES`), or has the
      :data:`RUN_MARKER` file: with ``resume`` it is continued; with ``force`` the entries prefkit
      wrote are removed (other files are left alone; entries containing a path of ``keep``, such
      as the ``--base`` directory, too); otherwise refused;
    * anything else (a non-empty directory prefkit did not write, a file): refused, also with
      ``force`` — prefkit never deletes what it did not write.
    """
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ModelFileError(f"{out}: --out must be a directory, this is a file")
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return
    foreign = [n for n in names if not _is_run_entry(n)]
    if foreign and not (out / RUN_MARKER).is_file():
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise ModelFileError(f"{out}: --out is not empty and is not a prefkit align run "
                             f"directory (it holds {shown}); choose a new or empty directory "
                             "(prefkit never deletes files it did not write)")
    if resume:
        return
    if not force:
        raise ModelFileError(f"{out}: --out already holds an align run; pass --resume to continue "
                             "it or --force to replace it")
    kept = [Path(k).resolve() for k in keep]
    for name in names:
        path = out / name
        real = path.resolve()
        if _is_run_entry(name) and not any(k == real or real in k.parents for k in kept):
            stranger = _foreign_file(path)
            if stranger is not None:
                raise ModelFileError(
                    f"{out}: --force would delete {stranger}, which prefkit did not write; "
                    "move it out of the run directory first"
                )
    for name in names:
        path = out / name
        if not _is_run_entry(name):
            continue
        if path.is_dir() and not path.is_symlink():
            real = path.resolve()
            if any(k == real or real in k.parents for k in kept):
                continue
            shutil.rmtree(path)
        else:
            path.unlink()
