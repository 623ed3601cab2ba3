"""Comparison-graph diagnostics: when does the maximum-likelihood estimate exist?

Zermelo (1929), Ford (1957) and Hunter (2004, Assumption 1): the Bradley–Terry MLE exists and is
unique iff, for every split of the items into two non-empty groups, some item of each group beat
some item of the other — i.e. the directed "loser → winner" graph is *strongly connected*
(ties and soft labels count in both directions).  Otherwise some ratings run off to ±∞:

* a disconnected (weakly) graph: ratings of different components cannot be compared at all;
* an undefeated item (never lost) or a winless one (never won);
* more generally a group of items that never lost to the rest.

:func:`diagnose` finds these cases and names the items, so the caller can warn and add a small
Gaussian prior instead of returning infinities or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Up to this many items the common case (a strongly connected graph) is checked on a dense
#: boolean adjacency matrix with numpy, without importing scipy.sparse (~50 ms at start-up).
DENSE_CHECK_MAX_ITEMS = 4096


class ComparisonGraphWarning(UserWarning):
    """The comparison graph does not identify every rating (disconnected, undefeated items…)."""


@dataclass
class GraphReport:
    n_components: int
    strongly_connected: bool
    undefeated: list[str] = field(default_factory=list)
    winless: list[str] = field(default_factory=list)
    unobserved: list[str] = field(default_factory=list)
    components: list[list[str]] = field(default_factory=list)
    dominant: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.strongly_connected and not self.unobserved

    def message(self) -> str:
        parts = []
        if self.n_components > 1:
            comps = "; ".join(_names(c, 5) for c in self.components[:5])
            parts.append(
                f"comparison graph is disconnected ({self.n_components} components: {comps}); "
                "ratings in different components are not comparable"
            )
        if self.unobserved:
            parts.append(f"items never compared: {_names(self.unobserved)}")
        if self.undefeated:
            parts.append(f"items never lost: {_names(self.undefeated)}")
        if self.winless:
            parts.append(f"items never won: {_names(self.winless)}")
        if not parts and not self.strongly_connected:
            parts.append(
                "comparison graph is not strongly connected: items "
                f"{_names(self.dominant)} never lost to the others"
            )
        return "; ".join(parts)


def _names(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return f"[{shown}{f', … (+{more})' if more > 0 else ''}]"


def diagnose(
    items: list[str],
    i: np.ndarray,
    j: np.ndarray,
    wi: np.ndarray,
    wj: np.ndarray,
    t: np.ndarray,
) -> GraphReport:
    """Check existence of the MLE for rows (i, j) with i-wins ``wi``, j-wins ``wj``, ties ``t``."""
    n = len(items)
    # edge loser -> winner
    src = np.concatenate([j[wi > 0], i[wj > 0], i[t > 0], j[t > 0]])
    dst = np.concatenate([i[wi > 0], j[wj > 0], j[t > 0], i[t > 0]])
    if 2 <= n <= DENSE_CHECK_MAX_ITEMS and _strongly_connected_dense(n, src, dst):
        return GraphReport(n_components=1, strongly_connected=True)
    from scipy import sparse
    from scipy.sparse import csgraph

    g = sparse.csr_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    n_weak, weak = csgraph.connected_components(g, directed=True, connection="weak")
    n_strong, strong = csgraph.connected_components(g, directed=True, connection="strong")
    wins = np.bincount(i, wi + t, n) + np.bincount(j, wj + t, n)
    losses = np.bincount(i, wj + t, n) + np.bincount(j, wi + t, n)
    seen = (np.bincount(i, minlength=n) + np.bincount(j, minlength=n)) > 0
    names = np.asarray(items, dtype=object)
    comps = []
    if n_weak > 1:
        sizes = np.bincount(weak)
        for c in np.argsort(-sizes):
            comps.append([str(x) for x in names[weak == c]])
    dominant: list[str] = []
    if n_strong > 1:
        # a source component of the condensation: no edges from outside lead into it? we want
        # items that never lost to the rest -> components with no outgoing loser->winner edge
        comp_src, comp_dst = strong[src], strong[dst]
        cross = comp_src != comp_dst
        has_out = np.zeros(n_strong, dtype=bool)
        has_out[comp_src[cross]] = True
        sinks = np.flatnonzero(~has_out)
        dominant = [str(x) for x in names[np.isin(strong, sinks) & seen]]
    return GraphReport(
        n_components=int(n_weak),
        strongly_connected=bool(n_strong == 1),
        undefeated=[str(x) for x in names[seen & (losses == 0)]],
        winless=[str(x) for x in names[seen & (wins == 0)]],
        unobserved=[str(x) for x in names[~seen]],
        components=comps,
        dominant=dominant,
    )


def _strongly_connected_dense(n: int, src: np.ndarray, dst: np.ndarray) -> bool:
    """Whether the graph of edges ``src → dst`` on ``n`` nodes is strongly connected: every node
    is reached from node 0 along the edges and along the reversed edges (breadth-first search on a
    dense boolean adjacency matrix, O(n²))."""
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[src, dst] = True
    for matrix in (adjacency, adjacency.T):
        reached = np.zeros(n, dtype=bool)
        reached[0] = True
        frontier = reached.copy()
        while frontier.any():
            frontier = matrix[frontier].any(axis=0) & ~reached
            reached |= frontier
        if not reached.all():
            return False
    return True
