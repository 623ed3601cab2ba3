r"""A stronger reward model for flip detection: text embeddings plus style and item features.

A MiniLM-embedding linear head reaches only ≈ 0.62–0.68 cross-fitted accuracy on the real
files, too weak for a wrong label to stand out from the model's own errors (docs/quality.md §2).
Two signals it misses are cheap and known to drive preferences (section 3 of the same page):

* **style** — per response, the properties of :mod:`prefkit.quality.properties` (length,
  markdown headers, list items, code blocks, bold spans, refusal and hedging phrases,
  readability, overlap with the prompt), as ``log1p`` of the counts, readability / 100 and the
  overlap share, each standardized over all responses of the file (label-free, so using the
  whole file leaks no label into any fold);
* **items** — one-hot of the item id behind each response (``a``/``b``: the model that wrote
  it), when the file has item ids distinct from the texts, 2–``max_items`` of them: the
  Bradley–Terry strength of the system, the ``controlled`` comparison's θ.

Each candidate's vector is ``[embedding | style | items]``, so a linear head on it is
r(x) = w_e·e(x) + w_s·z(x) + θ_item(x) — the style-controlled Bradley–Terry model of Chatbot
Arena (Li et al. 2024, "Does style matter?") with the text embedding added.  The annotators' own
numeric side columns (``a_*``/``b_*``, e.g. Tulu-1's ``acceptable``) are never used: they are
part of the label being judged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STYLE_COUNTS = ("length", "headers", "list_items", "code_blocks", "bold", "refusal", "hedging")


def style_matrix(texts: list[Any], prompts: list[Any] | None) -> np.ndarray:
    """``(n, p)`` raw style features of ``texts`` (module notes; before standardizing)."""
    from prefkit.quality.properties import text_properties

    rows = []
    for i, text in enumerate(texts):
        props = text_properties(text, None if prompts is None else prompts[i])
        row = [np.log1p(props[name]) for name in STYLE_COUNTS]
        row.append(float(np.clip(props["readability"] / 100.0, -2.0, 2.0)))
        if prompts is not None:
            row.append(props["prompt_overlap"])
        rows.append(row)
    return np.asarray(rows, dtype=float).reshape(len(texts), -1)


def _item_columns(dataset: Any, max_items: int) -> tuple[np.ndarray, np.ndarray] | None:
    if not (dataset.has("a") and dataset.has("b")):
        return None
    a = [str(v) for v in dataset.column("a")]
    b = [str(v) for v in dataset.column("b")]
    if dataset.has("a_text") and a == [str(v) for v in dataset.column("a_text")]:
        return None  # the ids are the texts themselves
    names = sorted(set(a) | set(b))
    if not 2 <= len(names) <= max_items:
        return None
    index = {name: k for k, name in enumerate(names)}
    xa, xb = np.zeros((len(a), len(names))), np.zeros((len(b), len(names)))
    xa[np.arange(len(a)), [index[v] for v in a]] = 1.0
    xb[np.arange(len(b)), [index[v] for v in b]] = 1.0
    return xa, xb


def augment_features(dataset: Any, features: Any, *, style: bool = True, items: bool = True,
                     max_items: int = 200) -> Any:
    """``features`` (:class:`~prefkit.reward.PairFeatures` of ``dataset``) with the style and
    item columns appended to both candidates' vectors (module notes).  Without texts the style
    part is left out; without usable item ids the item part."""
    from prefkit.reward.features import PairFeatures

    parts_a, parts_b = [np.asarray(features.xa, dtype=float)], [np.asarray(features.xb,
                                                                            dtype=float)]
    if style and dataset.has("a_text") and dataset.has("b_text"):
        prompts = list(dataset.column("prompt")) if dataset.has("prompt") else None
        sa = style_matrix(list(dataset.column("a_text")), prompts)
        sb = style_matrix(list(dataset.column("b_text")), prompts)
        both = np.vstack([sa, sb])
        mean, sd = both.mean(axis=0), both.std(axis=0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        parts_a.append((sa - mean) / sd)
        parts_b.append((sb - mean) / sd)
    if items:
        cols = _item_columns(dataset, max_items)
        if cols is not None:
            parts_a.append(cols[0])
            parts_b.append(cols[1])
    return PairFeatures(np.hstack(parts_a).astype(np.float32),
                        np.hstack(parts_b).astype(np.float32), y=features.y, w=features.w,
                        tie=features.tie)
