"""The pieces of the over-optimisation demo (not the demo itself): the readable gold reward, the
reason a proxy trained on a few gold-labelled base-policy pairs is exploitable (it agrees with
gold on base samples, but prefers a repetitive answer that gold ranks low), the ensemble's
disagreement off the training distribution, and the over-seeds summary."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit.align.online.gold import politeness, politeness_no_repeats, repeats
from prefkit.align.online.overopt import bon_sizes, summarise_over_seeds

POLITE = "sure ! the cat is kind and calm ."
REPETITIVE = "of course course course course course course course course course course"


def test_politeness_no_repeats_reads_as_documented() -> None:
    texts = [POLITE, "sure ! the cat is kind and kind and kind .", "no . the dog is dull .",
             REPETITIVE, ""]
    # polite words counted once (sure, kind, calm | sure, kind | – | of, course), rude −1,
    # each repeated non-function word −2; "the/and/is/of/./!" repeat for free
    assert repeats(texts[1]) == 2 and repeats(REPETITIVE) == 9
    assert politeness_no_repeats(["x"] * 5, texts).tolist() == [3.0, -2.0, -2.0, -16.0, 0.0]
    assert politeness_no_repeats(["x"], [texts[1]], cost=1.0).tolist() == [0.0]
    # the plain politeness score rewards every repetition
    assert politeness(["x"] * 2, [POLITE, REPETITIVE]).tolist() == [3.0, 11.0]


def test_a_proxy_from_few_gold_pairs_is_exploitable_by_repetition(tiny) -> None:
    from prefkit.align.online.overopt import gold_labelled_pairs, make_proxies, tiny_vocabulary
    from prefkit.align.online.sampling import sample_rollout
    from prefkit.align.tiny import synthetic_records

    model, tok = tiny
    prompts = sorted({r["prompt"] for r in synthetic_records(400)})
    pairs = gold_labelled_pairs(model, tok, prompts, politeness_no_repeats, 48, seed=0,
                                max_new_tokens=16)
    proxies = make_proxies(pairs, tiny_vocabulary(tok), members=4, seed=0)
    held_out = sample_rollout(model, tok, prompts[:16], n=4, max_new_tokens=16, seed=99,
                              logps=False)
    gold = politeness_no_repeats(held_out.sample_prompts, held_out.texts)
    single = proxies["single"]
    proxy = single.rewards(held_out.sample_prompts, held_out.texts)
    # on base-policy samples the proxy tracks the gold reward ...
    assert np.corrcoef(proxy, gold)[0, 1] > 0.5
    # ... but it ranks the repetitive answer above a polite one, which gold ranks far below
    p = single.rewards(["x"] * 2, [POLITE, REPETITIVE])
    g = politeness_no_repeats(["x"] * 2, [POLITE, REPETITIVE])
    assert p[1] > p[0] and g[1] < g[0] - 10
    # the ensemble members disagree more on it than on the polite answer (what UWO charges)
    members = proxies["ensemble-uwo"]._member_rewards(["x"] * 2, [POLITE, REPETITIVE])
    spread = members.var(axis=1)
    assert spread[1] > spread[0]
    uwo = proxies["ensemble-uwo"].rewards(["x"] * 2, [POLITE, REPETITIVE])
    assert uwo[1] - uwo[0] < p[1] - p[0]  # the repetition pays off less under UWO


def test_bon_sizes_and_summary_over_seeds() -> None:
    assert bon_sizes(1) == [1] and bon_sizes(8) == [1, 2, 4, 8]
    assert bon_sizes(12) == [1, 2, 4, 8, 12]

    def numbers(peak_at: float, end: float) -> dict[str, float]:
        return {"gold_start": 0.0, "gold_peak": 2.0, "sqrt_kl_at_peak": peak_at,
                "gold_end": end, "sqrt_kl_end": 5.0, "proxy_start": 0.0, "proxy_end": 9.0}

    summary = {"grpo/single/0": numbers(1.0, -3.0), "grpo/single/1": numbers(2.0, -1.0),
               "grpo/ensemble-wco/0": numbers(1.5, -4.0), "grpo/ensemble-wco/1": numbers(3.0, 0.5),
               "bon/single/0": {}}
    over = summarise_over_seeds(summary)
    assert over["grpo/single"]["sqrt_kl_at_peak"] == pytest.approx(1.5)
    assert over["grpo/single"]["seeds"] == 2 and "later_peak_seeds" not in over["grpo/single"]
    wco = over["grpo/ensemble-wco"]
    assert wco["later_peak_seeds"] == 2 and wco["higher_end_seeds"] == 1
    assert wco["gold_end"] == pytest.approx(-1.75)
    assert "bon/single" not in over
