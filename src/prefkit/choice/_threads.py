"""One BLAS thread for the choice layer's small dense linear algebra.

Leaderboards and bootstraps solve systems of at most a few thousand parameters, many times.
On a machine with more runnable jobs than cores, multi-threaded OpenBLAS workers busy-wait and
each small solve or product can take 100× longer and vary from run to run (issue #12 items 18–19:
a 200×200 solve took 0.4 s).  :func:`one_blas_thread` limits BLAS to one thread for a block,
through one cached :class:`threadpoolctl.ThreadpoolController` (building a controller scans the
loaded libraries, ≈ 30 ms).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (restored afterwards)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
