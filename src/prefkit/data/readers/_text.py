"""Small text helpers shared by the LLM-preference adapters (internal)."""

from __future__ import annotations


def common_prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings (C-speed slice comparisons)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # invariant: a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo
