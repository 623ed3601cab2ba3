"""LLM judges as preference sources (a layer beside ``reward``; may use data, choice, encode,
reward, evaluate and core — never align or cli).

* :mod:`prefkit.judge.parsing` — one verdict parser per protocol, unparsed answers explicit;
* :mod:`prefkit.judge.judgments` — the judgments table (one row per judgment: pair, order,
  verdict, raw text, judge) and its pairing of both orders;
* :mod:`prefkit.judge.recorded` — :class:`RecordedJudge`, a judge answering the model contract
  from recorded verdicts, and re-parsing of recorded files;
* :mod:`prefkit.judge.analysis` — position consistency, first-position rate, length bias,
  agreement with humans (MT-Bench definitions), Cohen's κ, per-category, bootstrap intervals;
* :mod:`prefkit.judge.arena_hard` — verdicts → battles (v0.1 / v2 rules) → scores against the
  baseline, with style control (:mod:`prefkit.judge.style_control`);
* :mod:`prefkit.judge.grading`, :mod:`prefkit.judge.checklist` — rubric grading (1–5, 1–10) and
  TICK checklists; :mod:`prefkit.judge.self_preference` — the DBG score;
* :mod:`prefkit.judge.backends` — where verdicts come from: recorded files, an
  OpenAI-compatible endpoint, a local causal LM's verdict-token probabilities, a prefkit reward
  model — one protocol;
* :mod:`prefkit.judge.run` — both orders, cache, resume, streaming JSONL, tokens and cost;
  :mod:`prefkit.judge.live` — :class:`LLMJudge`, a live judge answering the model contract;
  :mod:`prefkit.judge.jury` — several judges as one.
"""

from prefkit.judge.parsing import Verdict, parse_arena_hard, parse_pairwise_abc, parse_rating

__all__ = ["Verdict", "parse_arena_hard", "parse_pairwise_abc", "parse_rating"]
