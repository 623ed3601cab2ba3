"""Deterministic replies of the test judge server for the rubric, checklist and Arena-Hard
templates (imported by ``fake_openai_server.py``; ``None``: not one of these templates).

* Prometheus rubric (``###Score Rubrics:``): ``[RESULT] 1 + len(response) % 5``;
* MT-Bench rating (``Rating: [[5]]`` in the instructions): ``Rating: [[1 + len(response) % 10]]``;
* checklist generation: one question per distinct word (≥ 3 letters) of the instruction, at most
  three: ``N. Does the response mention 'word'?``; an instruction with ``NOCHECKLIST`` gets prose;
* checklist answer: ``[[YES]]`` when the question's quoted word occurs in the response, else
  ``[[NO]]``; a question about ``'noverdict'`` gets no verdict;
* Arena-Hard (``<|The Start of Assistant A's Answer|>``): by length — ``[[A>>B]]`` when A is at
  least twice as long as B, ``[[A>B]]`` when longer, ``[[A=B]]`` when equal (mirrored for B).

A response containing ``NOVERDICT`` gets a reply without a verdict.
"""

from __future__ import annotations

import re


def _between(content: str, start: str, end: str) -> str | None:
    match = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), content, re.S)
    return match.group(1) if match else None


def grading_reply(content: str) -> str | None:
    response = _between(content, "[The Start of the Response]", "[The End of the Response]")
    if "[Checklist Question]" in content:
        question = _between(content, "[Checklist Question]", "[End of Checklist Question]") or ""
        word = question.split("'")[1] if question.count("'") >= 2 else ""
        if word == "noverdict":
            return "I am not sure."
        found = word.lower() in (response or "").lower()
        return f"Checked for '{word}'.\n[[{'YES' if found else 'NO'}]]"
    if "[The Start of the Instruction]" in content:
        instruction = _between(content, "[The Start of the Instruction]",
                               "[The End of the Instruction]") or ""
        if "NOCHECKLIST" in instruction:
            return "This instruction needs no checklist."
        words = []
        for w in re.findall(r"[A-Za-z]{3,}", instruction):
            if w.lower() not in words:
                words.append(w.lower())
        return "\n".join(f"{k}. Does the response mention '{w}'?"
                         for k, w in enumerate(words[:3], 1))
    if response is not None and "NOVERDICT" in response:
        return "I cannot grade this."
    if "###Score Rubrics:" in content and response is not None:
        return f"Feedback: {len(response)} characters.\n[RESULT] {1 + len(response) % 5}"
    if "Rating: [[5]]" in content and response is not None:
        return f"The response has {len(response)} characters. Rating: [[{1 + len(response) % 10}]]"
    if "<|The Start of Assistant A's Answer|>" in content:
        a = _between(content, "<|The Start of Assistant A's Answer|>",
                     "<|The End of Assistant A's Answer|>") or ""
        b = _between(content, "<|The Start of Assistant B's Answer|>",
                     "<|The End of Assistant B's Answer|>") or ""
        if "NOVERDICT" in a + b:
            return "Both are fine."
        la, lb = len(a), len(b)
        verdict = ("A>>B" if la >= 2 * lb else "A>B" if la > lb else "A=B" if la == lb
                   else "B>>A" if lb >= 2 * la else "B>A")
        return f"Lengths {la} and {lb}.\n\nMy final verdict is: [[{verdict}]]"
    return None
