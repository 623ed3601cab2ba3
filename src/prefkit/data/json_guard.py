"""JSON nesting depth and record size, checked on raw bytes before any parser sees them.

Arrow's JSON reader segfaults on ~20,000 nested brackets and Python's ``json`` raises
RecursionError at ~1,000, so untrusted JSON is scanned first.  The scan is vectorised (NumPy)
and structural, in the spirit of simdjson's stage 1 (Langdale & Lemire, "Parsing gigabytes of
JSON per second", VLDB Journal 2019): a quote preceded by an odd run of backslashes is escaped; a
bracket after an odd number of unescaped quotes is inside a string; the depth is the running sum
of +1 (``{`` ``[``) and -1 (``}`` ``]``) over the brackets outside strings.

Two rules make the scan safe on *invalid* input too, where parsers may resume (Arrow parses
blocks of lines in parallel, so a broken early line does not stop a later one from being parsed):

* a raw newline ends any string (JSON strings cannot hold one; every parser stops there), so
  one unterminated string cannot hide the brackets of the lines after it;
* the depth never goes below 0 (surplus closing brackets cannot pay for later opening ones).

Depth is *not* reset at newlines: a value may span lines (a pretty-printed JSON file), and
Arrow's reader parses such values within a block.  On valid JSON the scan gives exactly the
parsed depth, wherever the text is cut into pieces.
"""

from __future__ import annotations

import numpy as np

from prefkit.data.limits import LIMITS, limit_error

CHUNK_BYTES = 8 << 20
_NEWLINE, _QUOTE, _BACKSLASH = 0x0A, 0x22, 0x5C


def _escaped_quotes(arr: np.ndarray, quotes: np.ndarray, carry: int) -> tuple[np.ndarray, int]:
    """Mask of the ``quotes`` preceded by an odd run of backslashes (``carry``: length of the run
    the previous piece ended with), and the length of the run this piece ends with."""
    slashes = np.flatnonzero(arr == _BACKSLASH)
    escaped = np.zeros(quotes.size, dtype=bool)
    if slashes.size:
        new_run = np.ones(slashes.size, dtype=bool)
        new_run[1:] = slashes[1:] != slashes[:-1] + 1
        run_first = np.maximum.accumulate(np.where(new_run, np.arange(slashes.size), 0))
        run_length = np.arange(slashes.size) - run_first + 1
        run_length = run_length + np.where(slashes[run_first] == 0, carry, 0)
        if quotes.size:
            last = np.searchsorted(slashes, quotes) - 1  # last backslash before each quote
            safe = np.maximum(last, 0)
            touching = (last >= 0) & (slashes[safe] == quotes - 1)
            escaped = touching & (run_length[safe] % 2 == 1)
        tail = int(run_length[-1]) if slashes[-1] == arr.size - 1 else 0
    else:
        tail = 0
    if quotes.size and quotes[0] == 0 and carry % 2 == 1:
        escaped[0] = True
    return escaped, tail


class DepthScanner:
    """Bracket depth of a JSON text fed in pieces (strings and escapes respected; see the module
    docstring for the two rules on invalid input)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False  # the piece so far ended inside a string
        self.backslashes = 0  # length of the backslash run the previous piece ended with
        self.offset = 0  # bytes seen before the current piece

    def feed(self, data: bytes | memoryview) -> int | None:
        """Offset (from the first byte ever fed) of the first bracket opening level
        ``limit + 1``, or ``None``."""
        n = len(data)
        try:
            if n == 0:
                return None
            return self._feed(np.frombuffer(data, dtype=np.uint8))
        finally:
            self.offset += n

    def _inside_strings(
        self, positions: np.ndarray, quotes: np.ndarray, newlines: np.ndarray
    ) -> np.ndarray:
        """Which ``positions`` lie inside a string: an odd number of quotes since the line began
        (the first line of the piece continues the previous piece's state)."""
        before = np.searchsorted(quotes, positions)
        if not newlines.size:
            return (before + int(self.in_string)) % 2 == 1
        line = np.searchsorted(newlines, positions) - 1  # last newline before each position
        at_line_start = np.where(
            line >= 0, np.searchsorted(quotes, newlines[np.maximum(line, 0)]), 0
        )
        carried = np.where(line < 0, int(self.in_string), 0)
        return (before - at_line_start + carried) % 2 == 1

    def _feed(self, arr: np.ndarray) -> int | None:
        quotes = np.flatnonzero(arr == _QUOTE)
        escaped, self.backslashes_next = _escaped_quotes(arr, quotes, self.backslashes)
        quotes = quotes[~escaped]
        newlines = np.flatnonzero(arr == _NEWLINE)
        folded = arr | 0x20  # '[' 0x5B -> '{' 0x7B, ']' 0x5D -> '}' 0x7D, nothing else
        opens = np.flatnonzero(folded == 0x7B)
        closes = np.flatnonzero(folded == 0x7D)
        if opens.size:
            opens = opens[~self._inside_strings(opens, quotes, newlines)]
        if closes.size:
            closes = closes[~self._inside_strings(closes, quotes, newlines)]
        end = np.array([arr.size])
        self.in_string = bool(self._inside_strings(end, quotes, newlines)[0])
        self.backslashes = self.backslashes_next
        start = self.depth
        # depth before reflection at 0, at each close; a running minimum below 0 is a floor
        s_close = start + np.searchsorted(opens, closes) - np.arange(1, closes.size + 1)
        floor = np.minimum.accumulate(np.minimum(s_close, 0)) if closes.size else s_close
        lift = int(-floor[-1]) if closes.size else 0
        self.depth = start + int(opens.size) - int(closes.size) + lift
        if not opens.size:
            return None
        closes_before = np.searchsorted(closes, opens)
        if closes.size:
            shift = np.where(closes_before > 0, floor[np.maximum(closes_before - 1, 0)], 0)
        else:
            shift = np.zeros(opens.size, dtype=np.int64)
        depth_at_open = start + np.arange(1, opens.size + 1) - closes_before - shift
        over = np.flatnonzero(depth_at_open > self.limit)
        return int(opens[over[0]]) + self.offset if over.size else None


def first_too_deep(data: bytes | memoryview, limit: int) -> int | None:
    """Offset of the first bracket of ``data`` (one JSON text) that opens level ``limit + 1``,
    else ``None``.  Texts with at most ``limit`` opening brackets are not scanned."""
    raw = bytes(data)
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return None
    scanner = DepthScanner(limit)
    view = memoryview(raw)
    for start in range(0, len(view), CHUNK_BYTES):
        hit = scanner.feed(view[start : start + CHUNK_BYTES])
        if hit is not None:
            return hit
    return None


def check_json_document(data: bytes, source: str, *, first_line: int = 1) -> None:
    """A DataError naming the line where one JSON text (an array file, one object) nests deeper
    than ``LIMITS.max_json_depth``."""
    limit = LIMITS.max_json_depth
    hit = first_too_deep(data, limit)
    if hit is not None:
        line = first_line + data.count(b"\n", 0, hit)
        what = f"nesting deeper than {limit}"
        raise limit_error(what, "max_json_depth", source=source, line=line)


class JsonLinesGuard:
    """Checks a JSON-lines (or any JSON) byte stream as it passes, in pieces of any size.

    Every line must be at most ``LIMITS.max_record_bytes`` long and nothing may nest deeper than
    ``LIMITS.max_json_depth`` (:class:`DepthScanner`, so values spanning lines count too); the
    first problem raises a DataError naming its line.  Call :meth:`feed` for every piece, then
    :meth:`close` at the end of the stream.
    """

    def __init__(self, source: str, *, depth: bool = True) -> None:
        self.source = source
        self.line = 0  # newlines seen
        self.line_bytes = 0  # length of the current (unfinished) line
        self.record_limit = LIMITS.max_record_bytes
        self.depth_limit = LIMITS.max_json_depth
        self.scanner = DepthScanner(self.depth_limit) if depth else None

    def feed(self, data: bytes) -> None:
        if self.scanner is not None:
            hit = self.scanner.feed(data)
            if hit is not None:
                local = hit - (self.scanner.offset - len(data))
                raise limit_error(
                    f"nesting deeper than {self.depth_limit}",
                    "max_json_depth",
                    source=self.source,
                    line=self.line + data.count(b"\n", 0, local) + 1,
                )
        last = data.rfind(b"\n")
        if self.line_bytes + len(data) > self.record_limit:
            self._check_lengths(data)
        self.line += data.count(b"\n")
        self.line_bytes = len(data) - last - 1 if last >= 0 else self.line_bytes + len(data)

    def _check_lengths(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(arr == _NEWLINE)
        ends = np.append(ends, len(data))  # the unfinished last line so far
        lengths = np.diff(ends, prepend=-1) - 1
        lengths[0] += self.line_bytes
        bad = np.flatnonzero(lengths > self.record_limit)
        if bad.size:
            raise limit_error(
                f"record longer than {self.record_limit} bytes",
                "max_record_bytes",
                source=self.source,
                line=self.line + int(bad[0]) + 1,
            )

    def close(self) -> None:
        """End of the stream (every check is made as the bytes pass)."""


def check_line_lengths(data: bytes, source: str) -> None:
    """Every line of a text file (CSV …) at most ``LIMITS.max_record_bytes`` long."""
    check_json_lines(data, source, depth=False)


def check_json_lines(data: bytes, source: str, *, depth: bool = True) -> None:
    """Run :class:`JsonLinesGuard` over a whole text held in memory."""
    if len(data) <= LIMITS.max_record_bytes and (
        not depth or data.count(b"{") + data.count(b"[") <= LIMITS.max_json_depth
    ):
        return
    guard = JsonLinesGuard(source, depth=depth)
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_BYTES):
        guard.feed(bytes(view[start : start + CHUNK_BYTES]))
    guard.close()
