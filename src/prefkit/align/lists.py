"""Ranked response lists for listwise alignment (Plackett–Luce DPO, LiPO-λ).

One list per prompt: K ≥ 2 responses ordered best first, with graded labels ψ (larger = better;
equal labels are ties).  Two sources:

* **ranking data** (``kind="ranking"`` with ``texts``): the texts in ranking order; with
  ``ranks`` (1 = best) the labels are ψ_k = max rank − rank_k, else ψ_k = K − k; with a
  ``rewards`` column (one reward-model score per text, aligned with ``texts``) the labels are
  those scores (PRO's temperatures, LiPO's gains).  Unranked candidates have no text and are
  left out;
* **pairwise data grouped by prompt**: the distinct texts of a prompt are scored by their net
  wins (Copeland score; a soft label p adds 2p − 1 to the first text and 1 − 2p to the second),
  ordered by that score, and ψ is the dense rank of the score (ties stay ties).

Plackett–Luce needs a strict order: tied responses keep their order of appearance in the data
(a tie is broken, not modelled); LiPO-λ uses the labels and ignores pairs with equal labels.
Lists with one response, or whose responses are all tied, carry no preference and are dropped.

The reference log-probabilities of every response are kept as one flat vector in list order
(``offsets`` index it), so the same cache file format serves pairs and lists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from prefkit.align.pairs import collate_sequences, encode_prompt, encode_response, pair_rows
from prefkit.errors import DataError


@dataclass
class TextLists:
    """Prompt, responses (best first), graded labels ψ and a weight per list."""

    prompts: list[str]
    responses: list[list[str]]
    labels: list[np.ndarray]
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.prompts)


@dataclass
class TokenLists:
    """Token ids per list: the prompt and its K_i responses (each ending with EOS)."""

    prompt_ids: list[list[int]]
    response_ids: list[list[list[int]]]
    labels: list[np.ndarray]
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.prompt_ids)

    @property
    def sizes(self) -> np.ndarray:
        return np.asarray([len(r) for r in self.response_ids], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        """Start of list i in the flat response order (length n + 1)."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def flat(self) -> tuple[list[list[int]], list[list[int]]]:
        """(prompt ids, response ids) of every response, in list order."""
        prompts = [p for p, rs in zip(self.prompt_ids, self.response_ids, strict=True) for _ in rs]
        return prompts, [r for rs in self.response_ids for r in rs]

    def fingerprint(self) -> str:
        """A hash of every token id and the list sizes (for cached reference log-probs)."""
        h = hashlib.sha256(b"lists|")
        h.update(self.sizes.tobytes())
        prompts, responses = self.flat()
        for ids in (*prompts, *responses):
            h.update(np.asarray(ids, dtype=np.int64).tobytes())
            h.update(b"|")
        return h.hexdigest()


def _from_ranking(dataset: Any) -> TextLists:
    if not dataset.has("texts"):
        raise DataError("listwise training needs response texts in ranking data",
                        source=dataset.name, field="texts")
    texts = dataset.column("texts")
    ranks = dataset.column("ranks") if dataset.has("ranks") else None
    rewards = dataset.column("rewards") if dataset.has("rewards") else None
    prompts = dataset.column("prompt") if dataset.has("prompt") else np.full(len(dataset), "")
    weights = np.asarray(dataset.weights(), dtype=float)
    out = TextLists([], [], [], np.zeros(0))
    ws = []
    for i in range(len(dataset)):
        row = texts[i]
        if row is None or len(row) == 0:
            continue
        row = list(row)
        if any(t is None for t in row):
            raise DataError("missing response text in a ranking", source=dataset.name, row=i,
                            field="texts")
        r = (np.asarray(ranks[i], dtype=np.int64) if ranks is not None and ranks[i] is not None
             else np.arange(1, len(row) + 1))
        if len(r) != len(row):
            raise DataError(f"{len(row)} texts but {len(r)} ranks", source=dataset.name, row=i,
                            field="ranks")
        order = np.argsort(r, kind="stable")
        labels = (r.max() - r)[order].astype(float)
        if rewards is not None:
            given = [] if rewards[i] is None else list(rewards[i])
            score = np.asarray([np.nan if v is None else v for v in given], dtype=float)
            if len(score) != len(row) or not np.isfinite(score).all():
                raise DataError(f"{len(row)} texts need {len(row)} finite rewards",
                                source=dataset.name, row=i, field="rewards")
            labels = score[order]
        if len(row) < 2 or labels[0] == labels[-1]:
            continue
        out.prompts.append("" if prompts[i] is None else str(prompts[i]))
        out.responses.append([str(row[k]) for k in order])
        out.labels.append(labels)
        ws.append(weights[i])
    out.weights = np.asarray(ws, dtype=float)
    return out


def _from_pairs(dataset: Any) -> TextLists:
    groups: dict[str, dict[str, float]] = {}
    group_w: dict[str, list[float]] = {}
    for prompt, a, b, p, weight in pair_rows(dataset):
        score = groups.setdefault(prompt, {})
        score[a] = score.get(a, 0.0) + (2 * p - 1)
        score[b] = score.get(b, 0.0) + (1 - 2 * p)
        group_w.setdefault(prompt, []).append(weight)
    out = TextLists([], [], [], np.zeros(0))
    ws = []
    for prompt, score in groups.items():
        names = list(score)
        values = np.asarray([score[t] for t in names])
        order = np.argsort(-values, kind="stable")
        levels = np.unique(values)  # ascending: dense rank 0 = worst
        labels = np.searchsorted(levels, values[order]).astype(float)
        if len(names) < 2 or labels[0] == labels[-1]:
            continue
        out.prompts.append(prompt)
        out.responses.append([names[k] for k in order])
        out.labels.append(labels)
        ws.append(float(np.mean(group_w[prompt])))
    out.weights = np.asarray(ws, dtype=float)
    return out


def text_lists(dataset: Any) -> TextLists:
    """Ranked response lists of a ranking dataset, or of a pairwise one grouped by prompt."""
    if dataset.kind == "ranking":
        out = _from_ranking(dataset)
    elif dataset.kind == "pairwise":
        out = _from_pairs(dataset)
    else:
        raise DataError(f"listwise training needs ranking or pairwise data, this dataset is "
                        f"{dataset.kind}", source=dataset.name)
    if not out.prompts:
        raise DataError("no usable ranked lists (each needs ≥ 2 responses that are not all "
                        "tied)", source=dataset.name)
    return out


def tokenize_lists(
    tokenizer: Any, lists: TextLists, *, max_length: int = 512, max_prompt_length: int = 256
) -> TokenLists:
    """Tokenise as :func:`~prefkit.align.pairs.tokenize_pairs` does (same truncation rules)."""
    out = TokenLists([], [], lists.labels, lists.weights)
    cache: dict[str, list[int]] = {}
    for prompt, responses in zip(lists.prompts, lists.responses, strict=True):
        if prompt not in cache:
            cache[prompt] = encode_prompt(tokenizer, prompt)[-max_prompt_length:]
        p_ids = cache[prompt]
        room = max(max_length - len(p_ids), 1)
        out.prompt_ids.append(p_ids)
        out.response_ids.append([encode_response(tokenizer, r)[:room] for r in responses])
    return out


def collate_lists(
    lists: TokenLists, index: np.ndarray | list[int], pad_id: int, *, packing: bool = False
) -> dict[str, Any]:
    """One forward batch of every response of the lists ``index`` (list by list, best first).

    Besides the model inputs: ``flat`` (positions in the global flat order, for the reference),
    ``mask`` (B, K_max) of real responses, ``labels`` (B, K_max) and ``weights`` (B,).
    """
    index = np.asarray(index, dtype=np.int64)
    prompts, responses = [], []
    for i in index:
        for r in lists.response_ids[i]:
            prompts.append(lists.prompt_ids[i])
            responses.append(r)
    out = collate_sequences(prompts, responses, pad_id, packing=packing)
    sizes = lists.sizes[index]
    k_max = int(sizes.max())
    mask = torch.arange(k_max)[None, :] < torch.as_tensor(sizes)[:, None]
    labels = torch.zeros(len(index), k_max)
    for row, i in enumerate(index):
        labels[row, : sizes[row]] = torch.as_tensor(lists.labels[i], dtype=torch.float32)
    offsets = lists.offsets
    out["flat"] = torch.as_tensor(
        np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in index]))
    out["mask"] = mask
    out["labels"] = labels
    out["weights"] = torch.as_tensor(lists.weights[index], dtype=torch.float32)
    return out


def to_grid(flat_values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scatter per-response values (list order) into a (B, K_max) grid; padding is 0."""
    grid = torch.zeros(mask.shape, dtype=flat_values.dtype, device=flat_values.device)
    return grid.masked_scatter(mask.to(flat_values.device), flat_values)


@torch.no_grad()
def list_logps(
    model: Any,
    lists: TokenLists,
    *,
    pad_id: int,
    batch_size: int = 32,
    autocast_dtype: torch.dtype | None = None,
    advance: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Summed log-probs of every response of every list, flat in list order, without gradients
    (``batch_size`` responses per padded forward pass; ``advance(k)`` after each k responses)."""
    from prefkit.align.pairs import sequence_logps

    was_training = getattr(model, "training", False)
    model.eval()
    device = next(model.parameters()).device
    prompts, responses = lists.flat()
    parts = []
    try:
        for start in range(0, len(responses), batch_size):
            stop = min(start + batch_size, len(responses))
            batch = collate_sequences(prompts[start:stop], responses[start:stop], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16,
                                enabled=autocast_dtype is not None):
                logps, _ = sequence_logps(model, batch)
            parts.append(logps.float().cpu())
            if advance is not None:
                advance(stop - start)
    finally:
        model.train(was_training)
    return torch.cat(parts)


def synthetic_rankings(n: int = 32, seed: int = 0, k: int = 4) -> Any:
    """A ranking :class:`~prefkit.data.PreferenceDataset` in the tiny model's vocabulary.

    Each prompt has ``k`` responses ``"<opener> the <subject> is w1 and w2 and w3 ."`` whose
    quality is the number of kind words among w1…w3 (polite opener when ≥ 2); the ranking lists
    them best first, so a policy can learn the order in a few steps.
    """
    from prefkit.align import tiny
    from prefkit.data import PreferenceDataset

    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        subject = str(rng.choice(tiny._SUBJECTS))
        prompt = f"{rng.choice(tiny._ASKS)} {subject} ?"
        quality = sorted(rng.choice(4, size=min(k, 4), replace=False).tolist(), reverse=True)
        texts = []
        for q in quality:
            words = ([str(w) for w in rng.choice(tiny._GOOD, size=q, replace=False)]
                     + [str(w) for w in rng.choice(tiny._BAD, size=3 - q, replace=False)])
            rng.shuffle(words)
            opener = rng.choice(tiny._GOOD_OPENERS if q >= 2 else tiny._BAD_OPENERS)
            texts.append(f"{opener} the {subject} is {' and '.join(words)} .")
        records.append({
            "prompt": prompt,
            "ranking": [f"r{j}" for j in range(len(texts))],
            "texts": texts,
        })
    return PreferenceDataset.from_records(records, kind="ranking", name="synthetic-rankings")
