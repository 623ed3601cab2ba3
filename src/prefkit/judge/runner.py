"""The bookkeeping every judge protocol shares when it asks templates about records.

Pairwise judgments (:mod:`prefkit.judge.run`), rubric grades (:mod:`prefkit.judge.grading`) and
TICK checklists (:mod:`prefkit.judge.checklist`) all run the same way:

1. **resume** — the output, a JSON-lines file, is read back: records whose key is already there
   are not asked again (:meth:`JsonlOutput.written` reads it as it is; :meth:`JsonlOutput.read_back`
   also cuts a torn last line of a killed run and refuses a file prefkit did not write);
2. **pre-flight** — a backend is checked only when something must really be asked, and always
   before the output is touched, so a dead endpoint leaves no file behind;
3. **write** — one whole line per finished record, appended and flushed as it arrives, under an
   advisory lock (``flock``) so two runs never append to one file;
4. **count** — records written, what was there already, one progress tick per finished record
   (written or not: a failed request writes nothing and is asked again by the next run).

:class:`JsonlOutput` is steps 1 and 3 for all three protocols.  :class:`RecordRun` is the whole
loop for protocols asking one record at a time through :func:`prefkit.judge.asking.ask_parsed`
(grading, checklists): the protocol gives ``answer(ask, i) -> record | None``.  The pairwise
runner keeps its own asking loop on the same output — its cache is keyed by the template inputs
(not the rendered messages), looked up in batches, and its lines are assembled pre-encoded, which
is what makes a cached re-run two orders of magnitude faster than asking.

:func:`read_rated` reads a grade or checklist output back as a ``rating`` dataset.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefkit.core.limits import parse_json_line
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.asking import AskFn, AskStats, read_jsonl, session


def record_id(record: dict[str, Any]) -> str:
    """The resume key of a grade or checklist line: its ``id``."""
    return str(record["id"])


class JsonlOutput:
    """An append-only JSON-lines output keyed by ``key(record)`` (see the module notes).

    ``fmt``: every line must carry ``"format": fmt`` (None: not checked); ``what``: how a foreign
    line is named in the error (default ``fmt``).  As a context manager it opens the file for
    appending under an exclusive lock and is the sink: :meth:`write` (a line of JSON text),
    :meth:`write_record` (a dict), :meth:`write_lines`.
    """

    def __init__(self, path: str | os.PathLike[str], key: Callable[[Any], Hashable] = record_id,
                 *, fmt: str | None = None, what: str | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.format = fmt
        self.what = what or fmt or "prefkit"
        self.handle: Any = None

    def written(self) -> set[Any]:
        """Keys already in the (possibly torn) output, read without changing it; bad lines are
        left for :meth:`read_back` to report."""
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        keys = set()
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            try:
                keys.add(self.key(parse_json_line(line, str(self.path))))
            except (ValueError, KeyError, TypeError):
                continue
        return keys

    def read_back(self) -> set[Any]:
        """Keys already in the output; a torn last line (killed writer) is cut off, a line that is
        not this output's is a :class:`DataError`."""
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
        keys = set()
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = parse_json_line(line, str(self.path), number)
                if self.format is not None and record.get("format") != self.format:
                    raise KeyError("format")
                keys.add(self.key(record))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise DataError(f"not a {self.what} line; choose another --out",
                                source=str(self.path), line=number) from None
        return keys

    def __enter__(self) -> JsonlOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no advisory locks on Windows
            pass
        except OSError:
            self.handle.close()
            raise DataError("another run is writing this file", source=str(self.path)) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()

    def write(self, line: str, flush: bool = True) -> None:
        """Append one line of JSON text; ``flush=False`` leaves it buffered until the next
        flush (answers already in the cache)."""
        self.handle.write(line + "\n")
        if flush:
            self.handle.flush()

    def write_record(self, record: dict[str, Any]) -> None:
        """Append one record and flush it."""
        self.write(json.dumps(record, ensure_ascii=False))

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append several lines of JSON text at once and flush them."""
        if lines:
            self.handle.write("\n".join(lines) + "\n")
            self.handle.flush()

    def flush(self) -> None:
        self.handle.flush()


@dataclass
class RecordsSummary:
    """What a run over records did: records in the input, already in the output, written now,
    and the request counts of :class:`~prefkit.judge.asking.AskStats`."""

    total: int = 0
    already_done: int = 0
    written: int = 0
    stats: AskStats = field(default_factory=AskStats)

    def protocol_counts(self) -> dict[str, Any]:
        """A protocol's own counts, reported between ``written`` and the request counts."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "already_done": self.already_done, "written": self.written,
                **self.protocol_counts(), **self.stats.as_dict()}


#: ``answer(ask, i)``: the output record of input ``i``, or None when a request failed
Answerer = Callable[[AskFn, int], Awaitable[dict[str, Any] | None]]


class RecordRun:
    """One run of a protocol over records with ids ``ids`` into the JSONL ``out`` (resumable):
    :attr:`pending` are the indices not written yet; :meth:`ask_all` asks them."""

    def __init__(self, out: str | os.PathLike[str], fmt: str, ids: Sequence[str],
                 summary: RecordsSummary) -> None:
        self.output = JsonlOutput(out, record_id, fmt=fmt)
        done = self.output.written()
        self.pending = [i for i, item_id in enumerate(ids) if item_id not in done]
        self.summary = summary
        summary.total = len(ids)
        summary.already_done = len(ids) - len(self.pending)

    async def ask_all(
        self,
        backend: Any,
        answer: Answerer,
        *,
        preflight: bool = True,
        before: Callable[[AskFn], Awaitable[None]] | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> RecordsSummary:
        """Ask every pending record concurrently: ``answer(ask, i)`` gives its record, written
        as it arrives.  ``preflight``: whether the backend may have to be asked (False when the
        cache has every answer); ``before(ask)``: work every record needs first (checklist
        generation), run once the output is open."""
        summary, output = self.summary, self.output
        # the pre-flight check runs before the output file is touched
        async with session(backend, preflight=bool(self.pending) and preflight) as ask:
            output.read_back()
            with output:
                if before is not None:
                    await before(ask)

                async def one(i: int) -> None:
                    record = await answer(ask, i)
                    if record is not None:
                        output.write_record(record)
                        summary.written += 1
                    if advance:
                        advance(1)

                await asyncio.gather(*(one(i) for i in self.pending))
        return summary


def read_rated(
    path: str | os.PathLike[str],
    fmt: str,
    *,
    empty: str,
    extra: Callable[[dict[str, Any]], dict[str, Any]],
    unparsed_extra: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: {},
) -> PreferenceDataset:
    """A grade or checklist output (format ``fmt``) as a ``rating`` dataset: ``scores =
    {"overall": score}`` plus ``extra(line)``; lines without a score go to ``metadata["unparsed"]``
    (``id``, ``item``, ``line``, ``reason`` plus ``unparsed_extra(line)``); ``empty``: the error
    when no line has a score."""
    records, unparsed = [], []
    for number, r in read_jsonl(path, fmt):
        if r.get("score") is None:
            unparsed.append({"id": r.get("id"), "item": r.get("item"), "line": number,
                             "reason": r.get("parse_error"), **unparsed_extra(r)})
            continue
        records.append({"id": str(r["id"]), "item": r.get("item"), "prompt": r.get("prompt"),
                        "text": r.get("text"), "scores": {"overall": float(r["score"])},
                        "annotator_id": r.get("annotator_id"), **extra(r)})
    if not records:
        raise DataError(empty, source=os.fspath(path))
    ds = PreferenceDataset.from_records(records, kind="rating", name=os.fspath(path))
    ds.metadata["unparsed"] = unparsed
    ds.metadata["format"] = fmt
    return ds
