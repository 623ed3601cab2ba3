"""LLM judges as preference sources (a layer beside ``reward``; may use data, choice, encode,
reward, evaluate and core — never align or cli).

* :mod:`prefkit.judge.parsing` — one verdict parser per protocol, unparsed answers explicit;
* :mod:`prefkit.judge.judgments` — the judgments table (one row per judgment: pair, order,
  verdict, raw text, judge) and its pairing of both orders;
* :mod:`prefkit.judge.recorded` — :class:`RecordedJudge`, a judge answering the model contract
  from recorded verdicts, and re-parsing of recorded files;
* :mod:`prefkit.judge.analysis` — position consistency, first-position rate, length bias,
  agreement with humans (MT-Bench definitions), Cohen's κ, per-category, bootstrap intervals;
* :mod:`prefkit.judge.arena_hard` — verdicts → battles (v0.1 rules) → Bradley–Terry leaderboard;
* :mod:`prefkit.judge.backends` — where verdicts come from (recorded now; HTTP and local LMs
  slot in behind the same protocol).
"""

from prefkit.judge.parsing import Verdict, parse_arena_hard, parse_pairwise_abc, parse_rating

__all__ = ["Verdict", "parse_arena_hard", "parse_pairwise_abc", "parse_rating"]
