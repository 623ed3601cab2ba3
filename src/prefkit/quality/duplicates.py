r"""Exact and near-duplicate prompts and responses, within a dataset and across train/test files.

Texts are normalised (case-folded, whitespace collapsed); two texts are *exact* duplicates when
their normalised forms are equal, and *near* duplicates when the Jaccard similarity of their sets
of character 5-grams (shingles) is at least ``threshold``:

    J(s, t) = |S(s) ∩ S(t)| / |S(s) ∪ S(t)|.

Candidates come from MinHash signatures with banded locality-sensitive hashing (Broder 1997, "On
the resemblance and containment of documents"; Leskovec, Rajaraman & Ullman, *Mining of Massive
Datasets*, ch. 3), via the ``datasketch`` library (``MinHashLSH``); the LSH index is built with a
threshold 0.1 below the requested one, and every candidate pair is then verified with the exact
Jaccard similarity, so reported pairs are never false positives of the sketch.  Memory: the index
keeps only the band keys of each distinct text (signatures are not stored).

Across files (``against``), each distinct text of the test file is looked up in the index of the
training file; the exact key check of :func:`prefkit.data.split.leakage` (prompt, user) is
reported beside it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from prefkit.errors import DataError

SHINGLE = 5
NUM_PERM = 128
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case-folded text with runs of white space collapsed to one space."""
    return _SPACE.sub(" ", text.casefold()).strip()


def shingles(norm: str, k: int = SHINGLE) -> set[str]:
    """The character k-grams of a normalised text (the text itself when shorter than k)."""
    if len(norm) <= k:
        return {norm}
    return {norm[i:i + k] for i in range(len(norm) - k + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (1 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _minhash(norm: str, num_perm: int, seed: int) -> Any:
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch([s.encode("utf-8") for s in shingles(norm)])
    return m


def _lsh(threshold: float, num_perm: int) -> Any:
    try:
        from datasketch import MinHashLSH
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise DataError("near-duplicate search needs the 'datasketch' package: "
                        "pip install 'prefkit[quality]'") from err
    return MinHashLSH(threshold=max(0.05, min(0.95, threshold - 0.1)), num_perm=num_perm)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise DataError(f"threshold must be in (0, 1], got {threshold}", field="--threshold")


def _distinct(texts: Iterable[tuple[int, Any]]) -> tuple[list[str], dict[str, list[int]]]:
    """Distinct normalised texts (first-seen order) and the rows where each occurs."""
    rows: dict[str, list[int]] = defaultdict(list)
    for row, text in texts:
        if isinstance(text, str) and text.strip():
            rows[normalise(text)].append(row)
    return list(rows), rows


def near_pairs(texts: list[str], threshold: float = 0.9, *, num_perm: int = NUM_PERM,
               seed: int = 1) -> Iterator[tuple[int, int, float]]:
    """Pairs (i, j, J) with i < j of distinct normalised texts whose Jaccard J ≥ threshold."""
    check_threshold(threshold)
    lsh = _lsh(threshold, num_perm)
    for j, norm in enumerate(texts):
        m = _minhash(norm, num_perm, seed)
        if j:
            mine = None
            for i in sorted(lsh.query(m)):
                mine = mine if mine is not None else shingles(norm)
                sim = jaccard(shingles(texts[i]), mine)
                if sim >= threshold:
                    yield i, j, sim
        lsh.insert(j, m)


def _field_texts(dataset: Any, field: str) -> list[tuple[int, Any]]:
    if field == "prompt":
        return list(enumerate(dataset.column("prompt"))) if dataset.has("prompt") else []
    out: list[tuple[int, Any]] = []
    for col in ("a_text", "b_text"):
        if dataset.has(col):
            out.extend(enumerate(dataset.column(col)))
    return out


def _example(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _groups_within(texts: list[tuple[int, Any]], threshold: float, top: int,
                   seed: int) -> dict[str, Any]:
    keys, rows = _distinct(texts)
    uf = _UnionFind(len(keys))
    sims: dict[int, float] = {}
    for i, j, sim in near_pairs(keys, threshold, seed=seed):
        root_before = (uf.find(i), uf.find(j))
        uf.union(i, j)
        root = uf.find(i)
        sims[root] = min(sims.get(root_before[0], 1.0), sims.get(root_before[1], 1.0),
                         sims.get(root, 1.0), sim)
    clusters: dict[int, list[int]] = defaultdict(list)
    for k in range(len(keys)):
        clusters[uf.find(k)].append(k)
    groups = []
    for root, members in clusters.items():
        occurrences = sorted({r for k in members for r in rows[keys[k]]})
        n_occ = sum(len(rows[keys[k]]) for k in members)
        if len(members) == 1 and n_occ < 2:
            continue
        groups.append({
            "kind": "exact" if len(members) == 1 else "near",
            "similarity": 1.0 if len(members) == 1 else round(sims.get(root, 1.0), 4),
            "occurrences": n_occ, "distinct": len(members), "rows": occurrences[:20],
            "example": _example(keys[members[0]]),
        })
    groups.sort(key=lambda g: (-g["occurrences"], g["rows"][0]))
    exact = [g for g in groups if g["kind"] == "exact"]
    near = [g for g in groups if g["kind"] == "near"]
    return {
        "texts": len([t for t in texts if isinstance(t[1], str) and t[1].strip()]),
        "distinct": len(keys),
        "exact_groups": len(exact),
        "near_groups": len(near),
        "texts_in_near_groups": int(sum(g["distinct"] for g in near)),
        "groups": (near[:top] + exact[:top]),
    }


def _duplicate_records(dataset: Any, top: int) -> dict[str, Any] | None:
    """Records with the same prompt and the same two responses (in either order).  With a
    ``pair_id`` column, records of one pair_id are one comparison (several annotators' labels),
    so a group counts only when it spans at least two pair_ids."""
    if not (dataset.has("a_text") and dataset.has("b_text")):
        return None
    prompts = dataset.column("prompt") if dataset.has("prompt") else [""] * len(dataset)
    pair_ids = dataset.column("pair_id") if dataset.has("pair_id") else range(len(dataset))
    seen: dict[tuple[str, frozenset[str]], list[int]] = defaultdict(list)
    for row, (p, a, b) in enumerate(zip(prompts, dataset.column("a_text"),
                                        dataset.column("b_text"), strict=True)):
        key = (normalise(p or ""), frozenset((normalise(a or ""), normalise(b or ""))))
        seen[key].append(row)
    repeated = sorted((rows for rows in seen.values()
                       if len({str(pair_ids[r]) for r in rows}) > 1), key=lambda r: -len(r))
    return {"groups": len(repeated), "records": int(sum(len(r) for r in repeated)),
            "by": "pair_id" if dataset.has("pair_id") else "record",
            "examples": [r[:20] for r in repeated[:top]]}


def _leaks(train_texts: list[tuple[int, Any]], test_texts: list[tuple[int, Any]],
           threshold: float, top: int, seed: int) -> dict[str, Any]:
    train_keys, _ = _distinct(train_texts)
    test_keys, test_rows = _distinct(test_texts)
    known = set(train_keys)
    lsh = _lsh(threshold, NUM_PERM)
    for i, norm in enumerate(train_keys):
        lsh.insert(i, _minhash(norm, NUM_PERM, seed))
    exact, near = [], []
    for norm in test_keys:
        if norm in known:
            exact.append(norm)
            continue
        mine = shingles(norm)
        best, best_i = 0.0, -1
        for i in lsh.query(_minhash(norm, NUM_PERM, seed)):
            sim = jaccard(shingles(train_keys[i]), mine)
            if sim > best:
                best, best_i = sim, i
        if best >= threshold:
            near.append((norm, best, best_i))
    leaked_rows = sorted({r for norm in exact for r in test_rows[norm]}
                         | {r for norm, _, _ in near for r in test_rows[norm]})
    return {
        "test_distinct": len(test_keys),
        "exact": len(exact),
        "near": len(near),
        "test_rows": len(leaked_rows),
        "rows": leaked_rows[: top * 5],
        "examples": [{"kind": "exact", "test": _example(n)} for n in exact[:top]]
        + [{"kind": "near", "similarity": round(s, 4), "test": _example(n),
            "train": _example(train_keys[i])} for n, s, i in near[:top]],
    }


FIELDS = ("prompt", "response")


def find_duplicates(dataset: Any, *, against: Any = None, threshold: float = 0.9,
                    top: int = 20, seed: int = 1) -> dict[str, Any]:
    """Duplicate groups per field (prompt, response) and, with ``against``, test texts leaked
    from ``dataset`` (the training file) into ``against`` (module notes)."""
    check_threshold(threshold)
    report: dict[str, Any] = {"records": len(dataset), "threshold": threshold,
                              "similarity": f"Jaccard of character {SHINGLE}-grams", "fields": {}}
    for field in FIELDS:
        texts = _field_texts(dataset, field)
        if not texts:
            report["fields"][field] = {"skipped": f"no {field} texts in {dataset.name or 'data'}"}
            continue
        report["fields"][field] = _groups_within(texts, threshold, top, seed)
    dup = _duplicate_records(dataset, top)
    report["duplicate_records"] = dup if dup is not None else {
        "skipped": "no a_text/b_text: repeated item-level records are repeated games"}
    if against is not None:
        from prefkit.data.split import leakage

        cross: dict[str, Any] = {"records": len(against), "fields": {}}
        for field in FIELDS:
            train_texts, test_texts = _field_texts(dataset, field), _field_texts(against, field)
            if not train_texts or not test_texts:
                cross["fields"][field] = {"skipped": f"no {field} texts on both sides"}
                continue
            cross["fields"][field] = _leaks(train_texts, test_texts, threshold, top, seed)
        split_keys: dict[str, Any] = {}
        for by, column in (("prompt", "prompt"), ("user", "user_id")):
            if dataset.has(column) and against.has(column):
                leaked = leakage(dataset, against, by)
                split_keys[by] = {"leaked": len(leaked),
                                  "examples": [_example(str(v)) for v in sorted(leaked)[:top]]}
        cross["split_leakage"] = split_keys
        report["against"] = cross
    return report


def summary_counts(report: dict[str, Any]) -> dict[str, int]:
    """Flat counts of a :func:`find_duplicates` report (for tables and tests)."""
    out: dict[str, int] = {}
    for field, block in report["fields"].items():
        if "skipped" not in block:
            out[f"{field}_exact_groups"] = block["exact_groups"]
            out[f"{field}_near_groups"] = block["near_groups"]
    for field, block in report.get("against", {}).get("fields", {}).items():
        if "skipped" not in block:
            out[f"{field}_leaks"] = block["exact"] + block["near"]
    return out


__all__ = ["check_threshold", "find_duplicates", "jaccard", "near_pairs", "normalise", "shingles",
           "summary_counts"]
