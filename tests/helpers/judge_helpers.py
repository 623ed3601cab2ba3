"""Hand-made recorded-judge lines for the judge tests (imported by the test modules)."""

from __future__ import annotations

from typing import Any

FASTCHAT_PAIR = "judges/*FastChat*gpt-4_pair.jsonl"
RATINGS = "judges/*arena-bench-v1_model_judgment*.jsonl"
PANDALM_GPT = "judges/*PandaLM*gpt-3.5-turbo-testset*.json"
PANDALM_HUMAN = "llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json"


def pair_prompt(question: str, answer_a: str, answer_b: str) -> str:
    """FastChat's pair-v2 user prompt layout."""
    return (
        f"[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n"
        f"[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
        "[The End of Assistant B's Answer]"
    )


def fastchat_pair(
    qid: int, g1: str, g2: str, *, j1: str | None = None, j2: str | None = None,
    a_text: str = "short", b_text: str = "a much longer answer",
) -> dict[str, Any]:
    """One FastChat pairwise line; ``g1``/``g2`` in the original order (model_1, model_2, tie,
    error)."""
    shown = {"model_1": "[[A]]", "model_2": "[[B]]", "tie": "[[C]]"}
    swapped = {"model_1": "[[B]]", "model_2": "[[A]]", "tie": "[[C]]"}

    def text(table: dict[str, str], label: str) -> str:
        return "$ERROR$" if label == "error" else f"Reasoning.\n\n{table[label]}"

    return {
        "question_id": qid, "model_1": "m1", "model_2": "m2", "g1_winner": g1, "g2_winner": g2,
        "judge": ["gpt-4", "pair-v2"],
        "g1_user_prompt": pair_prompt(f"q{qid}", a_text, b_text),
        "g1_judgment": j1 if j1 is not None else text(shown, g1),
        "g2_user_prompt": pair_prompt(f"q{qid}", b_text, a_text),
        "g2_judgment": j2 if j2 is not None else text(swapped, g2),
        "turn": 1, "tstamp": 1.0,
    }
