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


#: JSON-lines guards hand a stretch of lines to the exact scan in pieces of about this size
BLOCK_BYTES = 1 << 20
#: whole lines the cheap bound keeps since its last zero (to hand them to the exact scan); past
#: this the exact scan takes over at once
RETAIN_BYTES = 32 << 20
#: longest run of closing brackets at the end of a line that the cheap bound credits
MAX_TRAILING_RUN = 64


def line_depth_bounds(
    arr: np.ndarray, start: int, newlines: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A cheap upper bound of the nesting depth over whole lines (``arr`` ends with a newline).

    Returns ``(peak, end)`` per line: a bound of the deepest level reached in the line and of
    the depth at its end, given ``start`` ≥ the depth before the first line (``newlines``: the
    newline offsets, if known).  Strings are not parsed: every ``{``/``[`` counts as an opening
    bracket, and only the closing brackets that end a line (a run of ``}``/``]``, spaces and
    ``\\r`` just before its newline) count as closing ones.  Such a bracket cannot sit inside a
    string of valid JSON — a string cannot hold a raw newline — so on any prefix a parser
    accepts, the bound is at least the parsed depth (brackets inside strings only add to it,
    other closing brackets are merely not subtracted).  With ``x_L`` = opens − credited closes
    of line ``L``, the end bound is the walk ``U_L = max(U_{L-1} + x_L, 0)`` (Lindley's
    recursion, in closed form ``S_L − min(0, min_{k≤L} S_k)`` with ``S`` the running sum from
    ``start``), and the peak is ``U_{L-1} + opens_L``.  Flat records bound at 1.
    """
    if newlines is None:
        newlines = np.flatnonzero(arr == _NEWLINE)
    line_start = np.empty_like(newlines)
    line_start[:1] = 0
    line_start[1:] = newlines[:-1] + 1
    is_open = (arr | 0x20) == 0x7B
    if np.count_nonzero(is_open) == newlines.size and np.all(arr[line_start] == 0x7B):
        per_line = np.ones(newlines.size, dtype=np.int64)  # one '{' per line, at its start
    else:
        per_line = np.diff(np.searchsorted(np.flatnonzero(is_open), newlines), prepend=0)
    credited = np.zeros(newlines.size, dtype=np.int64)
    rows, pos = np.arange(newlines.size), newlines - 1
    for _ in range(MAX_TRAILING_RUN):  # walk back from each newline while the run goes on
        inside = pos >= line_start[rows]
        rows, pos = rows[inside], pos[inside]
        if not rows.size:
            break
        byte = arr[pos]
        closing = (byte | 0x20) == 0x7D
        credited[rows] += closing
        going = closing | (byte == 0x20) | (byte == 0x0D) | (byte == 0x09)
        rows, pos = rows[going], pos[going] - 1
    walk = start + np.cumsum(per_line - credited)
    end = walk - np.minimum(np.minimum.accumulate(walk), 0)
    before = np.empty_like(end)
    before[:1] = start
    before[1:] = end[:-1]
    return before + per_line, end


class JsonLinesGuard:
    """Checks a JSON-lines (or any JSON) byte stream as it passes, in pieces of any size.

    Every line must be at most ``LIMITS.max_record_bytes`` long and nothing may nest deeper than
    ``LIMITS.max_json_depth``; the first problem raises a DataError naming its line.  Call
    :meth:`feed` for every piece, then :meth:`close` at the end of the stream.

    Depth is checked line by line with the cheap bound of :func:`line_depth_bounds` (a few NumPy
    passes; battle logs and other flat records never get near the limit).  Only where that bound
    exceeds the limit does the exact, string-aware :class:`DepthScanner` run — from the last
    line end where the bound was 0 (so the true depth was 0 too, outside any string), and on
    until the true depth is 0 again at a line end, where the cheap bound takes over again.
    Errors always come from the exact scan, so they name the same line as a full exact scan.
    """

    def __init__(self, source: str, *, depth: bool = True) -> None:
        self.source = source
        self.line = 0  # newlines seen
        self.line_bytes = 0  # length of the current (unfinished) line
        self.record_limit = LIMITS.max_record_bytes
        self.depth_limit = LIMITS.max_json_depth
        self.depth = depth
        self.bound = 0  # cheap bound of the depth after the lines depth-checked so far
        self.scanner: DepthScanner | None = None  # the exact scan, while it is in charge
        self.partial: list[bytes] = []  # the unfinished last line, not depth-checked yet
        self.partial_bytes = 0
        self.retained: list[tuple[memoryview, int]] = []  # (lines, newlines before) since 0
        self.retained_bytes = 0
        self.checked_lines = 0  # newlines in the text depth-checked (or retained) so far

    def feed(self, data: bytes | memoryview) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(arr == _NEWLINE)
        if self.depth:
            self._feed_depth(memoryview(data).cast("B"), arr, newlines)
        if self.line_bytes + arr.size > self.record_limit:
            self._check_lengths(arr)
        self.line += int(newlines.size)
        if newlines.size:
            self.line_bytes = arr.size - int(newlines[-1]) - 1
        else:
            self.line_bytes += arr.size

    # ------------------------------------------------------------------ depth
    def _feed_depth(self, view: memoryview, arr: np.ndarray, newlines: np.ndarray) -> None:
        if not newlines.size:  # no line ends here
            if self.scanner is not None:
                self._scan(view, 0)
            elif arr.size:
                self.partial.append(bytes(view))
                self.partial_bytes += arr.size
                if self.partial_bytes + self.retained_bytes > RETAIN_BYTES:
                    self._exact_now()
            return
        first_end = int(newlines[0]) + 1
        if self.partial and self.scanner is None:  # finish the unfinished line first
            head = b"".join([*self.partial, bytes(view[:first_end])])
            self.partial, self.partial_bytes = [], 0
            self._check_block(memoryview(head), np.frombuffer(head, dtype=np.uint8), None)
            start, k = first_end, 1
        else:
            start, k = 0, 0
        while k < newlines.size:  # blocks of whole lines, about BLOCK_BYTES each
            stop_k = max(int(np.searchsorted(newlines, start + BLOCK_BYTES)), k + 1)
            stop = int(newlines[stop_k - 1]) + 1
            self._check_block(view[start:stop], arr[start:stop], newlines[k:stop_k] - start)
            start, k = stop, stop_k
        if start < arr.size:
            if self.scanner is not None:
                self._scan(view[start:], 0)
            else:
                self.partial, self.partial_bytes = [bytes(view[start:])], arr.size - start

    def _check_block(
        self, block: memoryview, arr: np.ndarray, newlines: np.ndarray | None
    ) -> None:
        """Whole lines: bound them, or scan them exactly while the exact scan is in charge."""
        if newlines is None:
            newlines = np.flatnonzero(arr == _NEWLINE)
        if self.scanner is not None:
            self._scan(block, int(newlines.size))
            return
        first = self.checked_lines
        self.checked_lines += int(newlines.size)
        peak, end = line_depth_bounds(arr, self.bound, newlines)
        if int(peak.max(initial=0)) > self.depth_limit:
            self.retained.append((block, first))
            self._exact_now()
            return
        zeros = np.flatnonzero(end == 0)
        if zeros.size:  # the true depth is 0 after that line: nothing before it matters
            last = int(zeros[-1])
            offset = int(newlines[last]) + 1
            self.retained = [(block[offset:], first + last + 1)] if offset < arr.size else []
            self.retained_bytes = arr.size - offset
        else:
            self.retained.append((block, first))
            self.retained_bytes += arr.size
        self.bound = int(end[-1]) if end.size else self.bound
        if self.retained_bytes > RETAIN_BYTES:
            self._exact_now()

    def _exact_now(self) -> None:
        """Hand the lines kept since the bound was last 0 (and any unfinished line) to the exact
        scan, which stays in charge until the depth is 0 again at a line end."""
        self.scanner = DepthScanner(self.depth_limit)
        retained, self.retained, self.retained_bytes = self.retained, [], 0
        partial, self.partial, self.partial_bytes = self.partial, [], 0
        for block, first in retained:
            self._scan(block, None, first=first, hand_back=False)
        if partial:
            self._scan(memoryview(b"".join(partial)), 0, hand_back=False)
        assert self.scanner is not None
        if self.scanner.depth == 0 and not partial:
            self.scanner, self.bound = None, 0

    def _scan(
        self, block: memoryview, n_newlines: int | None, *, first: int | None = None,
        hand_back: bool = True,
    ) -> None:
        """Exact scan of the next text (``first``: newlines before it, if already counted)."""
        scanner = self.scanner
        assert scanner is not None
        if first is None:
            first = self.checked_lines
            self.checked_lines += int(n_newlines or 0)
        hit = scanner.feed(block)
        if hit is not None:
            local = hit - (scanner.offset - len(block))
            raise limit_error(
                f"nesting deeper than {self.depth_limit}",
                "max_json_depth",
                source=self.source,
                line=first + bytes(block[:local]).count(b"\n") + 1,
            )
        ends_line = len(block) > 0 and block[-1] == _NEWLINE
        if hand_back and scanner.depth == 0 and ends_line:
            self.scanner, self.bound = None, 0

    def _check_lengths(self, arr: np.ndarray) -> None:
        ends = np.flatnonzero(arr == _NEWLINE)
        ends = np.append(ends, arr.size)  # the unfinished last line so far
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
        """End of the stream: the last line, if it has no newline, is checked now."""
        if not self.depth or not self.partial:
            return
        tail = b"".join(self.partial)
        peak, _ = line_depth_bounds(np.frombuffer(tail + b"\n", dtype=np.uint8), self.bound)
        if int(peak.max(initial=0)) > self.depth_limit:
            self._exact_now()


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
        guard.feed(view[start : start + CHUNK_BYTES])
    guard.close()
