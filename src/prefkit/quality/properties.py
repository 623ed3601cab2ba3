"""Per-response properties computed without a network, and their a − b differences per record.

Text properties (need ``a_text``/``b_text``): length in whitespace tokens, markdown headers,
list items, fenced code blocks, bold spans, refusal phrases, hedging phrases, readability, and
overlap with the prompt (share of the response's distinct words that occur in the prompt; needs
``prompt``).

Readability is the Flesch reading ease (Flesch 1948, "A new readability yardstick", Journal of
Applied Psychology 32(3):221–233)::

    FRE = 206.835 − 1.015 · (words / sentences) − 84.6 · (syllables / words)

higher = easier (60–70 ≈ plain English).  Words are runs of letters, sentences end at ``.``,
``!``, ``?`` or a line break (at least one), and syllables are counted by the usual heuristic:
groups of vowels (``y`` included), minus a silent final ``e``, at least one per word.  A response
without words scores 0.
Numeric properties: every numeric ``a_<name>``/``b_<name>`` column pair (booleans as 0/1); a
record with a missing or non-finite value counts as no difference, with one warning per column.
A dataset without texts skips the text properties with a warning.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|i apologi[sz]e|i can(?:no|')t|i am unable|i'?m unable|"
    r"as an ai|as a language model|i (?:do not|don't) have the ability|i won'?t be able)\b",
    re.IGNORECASE,
)
HEDGING = re.compile(
    r"\b(might|may|perhaps|possibly|probably|it depends|not sure|i think|i believe|"
    r"it seems|could be|generally|typically|likely)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z0-9']+")
LETTERS = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n?")
VOWEL_GROUP = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Heuristic syllable count of one word (vowel groups, silent final e; at least 1)."""
    w = word.lower().replace("'", "")
    count = len(VOWEL_GROUP.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(count, 1)


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease of ``text`` (module notes); 0 for a text without words."""
    words = LETTERS.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len([s for s in SENTENCE_END.split(text.strip())
                            if LETTERS.search(s)]))
    syl = sum(syllables(w) for w in words)
    return 206.835 - 1.015 * len(words) / sentences - 84.6 * syl / len(words)


def text_properties(text: Any, prompt: Any = None) -> dict[str, float]:
    """The text properties of one response (module notes)."""
    s = text if isinstance(text, str) else ""
    lines = s.splitlines()
    out = {
        "length": float(len(s.split())),
        "headers": float(sum(1 for ln in lines if re.match(r"\s{0,3}#{1,6}\s", ln))),
        "list_items": float(sum(1 for ln in lines if re.match(r"\s*(?:[-*+]|\d+[.)])\s+\S", ln))),
        "code_blocks": float(s.count("```") // 2),
        "bold": float(len(re.findall(r"\*\*[^*\n]+\*\*", s))),
        "refusal": float(len(REFUSAL.findall(s))),
        "hedging": float(len(HEDGING.findall(s))),
        "readability": flesch_reading_ease(s),
    }
    if prompt is not None:
        words = set(WORD.findall(s.lower()))
        prompt_words = set(WORD.findall(prompt.lower())) if isinstance(prompt, str) else set()
        out["prompt_overlap"] = len(words & prompt_words) / len(words) if words else 0.0
    return out


def numeric_side_columns(dataset: Any) -> list[str]:
    """Names ``x`` with numeric (or boolean) ``a_x`` and ``b_x`` columns."""
    names = []
    for col in dataset.columns:
        if not col.startswith("a_") or col == "a_text" or f"b_{col[2:]}" not in dataset.columns:
            continue
        try:
            for side in ("a_", "b_"):
                values = pd.to_numeric(pd.Series(dataset.column(side + col[2:])), errors="raise")
                if values.isna().all():
                    raise ValueError
        except (TypeError, ValueError):
            continue
        names.append(col[2:])
    return names


def property_differences(dataset: Any) -> pd.DataFrame:
    """One row per record, one column per property: value(a) − value(b) (missing → 0)."""
    cols: dict[str, np.ndarray] = {}
    if dataset.has("a_text") and dataset.has("b_text"):
        prompts = dataset.column("prompt") if dataset.has("prompt") else [None] * len(dataset)
        with_prompt = dataset.has("prompt")
        a = pd.DataFrame([text_properties(t, p if with_prompt else None)
                          for t, p in zip(dataset.column("a_text"), prompts, strict=True)])
        b = pd.DataFrame([text_properties(t, p if with_prompt else None)
                          for t, p in zip(dataset.column("b_text"), prompts, strict=True)])
        for name in a.columns:
            cols[name] = (a[name] - b[name]).to_numpy(float)
    else:
        warnings.warn(f"{dataset.name or 'the dataset'}: no a_text/b_text, so the text "
                      "properties (length, markdown, refusal, hedging, readability, prompt "
                      "overlap) are skipped",
                      stacklevel=2)
    for name in numeric_side_columns(dataset):
        a = pd.to_numeric(pd.Series(dataset.column(f"a_{name}")), errors="coerce")
        b = pd.to_numeric(pd.Series(dataset.column(f"b_{name}")), errors="coerce")
        a, b = a.to_numpy(float), b.to_numpy(float)
        bad = ~(np.isfinite(a) & np.isfinite(b))
        if bad.any():
            warnings.warn(f"{dataset.name or 'the dataset'}: {int(bad.sum())} record(s) have a "
                          f"missing or non-finite a_{name}/b_{name} (first at record "
                          f"{int(np.flatnonzero(bad)[0])}); their {name} difference counts as 0",
                          stacklevel=2)
        cols[name] = np.where(bad, 0.0, a) - np.where(bad, 0.0, b)
    return pd.DataFrame(cols, index=range(len(dataset)))
