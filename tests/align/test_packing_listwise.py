"""Padding-free packing, listwise (Plackett–Luce, LiPO-λ) training, and their CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prefkit.align import pairs as pairs_mod
from prefkit.align.lists import (
    collate_lists,
    synthetic_rankings,
    text_lists,
    to_grid,
    tokenize_lists,
)
from prefkit.align.pairs import collate, sequence_logps, text_pairs, tokenize_pairs
from prefkit.align.tiny import perturbed_copy, synthetic_preferences, synthetic_records
from prefkit.align.trainer import REFERENCE_FILE, AlignConfig, AlignTrainer
from prefkit.cli.align import align_app
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dpo", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 4, "batch_size": 4}
    return AlignConfig(**{**base, **kw})


def _varied(n: int, seed: int) -> PreferenceDataset:
    """Pairs whose responses have very different lengths (1 to 4 repeats of a sentence)."""
    rng = np.random.default_rng(seed)
    recs = synthetic_records(n, seed=seed)
    for r in recs:
        r["a_text"] = " ".join([r["a_text"]] * int(rng.integers(1, 5)))
        r["b_text"] = " ".join([r["b_text"]] * int(rng.integers(1, 5)))
    return PreferenceDataset.from_records(recs)


# ----------------------------------------------------------------------------- packing
@pytest.mark.parametrize("native", [True, False])
def test_packed_logps_equal_padded(tiny, monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    model, tok = tiny
    if not native:  # the hand-built 4-D block-diagonal mask (older transformers)
        monkeypatch.setattr(pairs_mod, "native_packing", lambda: False)
    elif not pairs_mod.native_packing():
        pytest.skip("transformers without packed position_ids support")
    pairs = tokenize_pairs(tok, text_pairs(_varied(6, seed=3)))
    idx = np.arange(6)
    lengths = {len(p) + len(c) for p, c in zip(pairs.prompt_ids, pairs.chosen_ids, strict=True)}
    assert len(lengths) > 3  # really variable lengths
    padded = collate(pairs, idx, tok.pad_token_id)
    packed = collate(pairs, idx, tok.pad_token_id, packing=True)
    assert packed["input_ids"].shape == (1, int(padded["attention_mask"].sum()))  # no padding
    assert (packed["attention_mask"] is None) == native
    with torch.no_grad():
        lp_pad, len_pad = sequence_logps(model, padded)
        lp_pack, len_pack = sequence_logps(model, packed)
        # the same row with plain positions attends across sequences: the mask matters
        leaky = {**packed, "position_ids": torch.arange(packed["input_ids"].shape[1])[None],
                 "attention_mask": None}
        lp_leak, _ = sequence_logps(model, leaky)
    torch.testing.assert_close(lp_pack, lp_pad, atol=1e-5, rtol=0)
    assert torch.equal(len_pack, len_pad)
    assert (lp_leak - lp_pad).abs().max() > 1e-2


def test_packed_training_follows_padded(tiny_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = _varied(16, seed=5)
    runs = []
    for packing in (False, True):
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        tr = AlignTrainer(model, tok, _cfg(packing=packing, grad_accum=2, max_steps=4))
        runs.append((tr.train(data), model))
    (h_pad, m_pad), (h_pack, m_pack) = runs
    assert h_pad[-1]["loss"] < h_pad[0]["loss"] - 0.01  # it trains
    for a, b in zip(h_pad, h_pack, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], abs=1e-4)
        assert b["reward_margin"] == pytest.approx(a["reward_margin"], abs=1e-4)
    for p, q in zip(m_pad.parameters(), m_pack.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- listwise data
def test_text_lists_from_rankings_and_grouped_pairs() -> None:
    ds = PreferenceDataset.from_records([
        {"prompt": "p", "ranking": ["x", "y", "z"], "texts": ["X", "Y", "Z"], "ranks": [1, 2, 2]},
        {"prompt": "q", "ranking": ["u", "v"], "texts": ["U", "V"], "ranks": [1, 1]},  # all tied
    ])
    lists = text_lists(ds)
    assert lists.responses == [["X", "Y", "Z"]]
    np.testing.assert_array_equal(lists.labels[0], [1, 0, 0])
    pairs = PreferenceDataset.from_records([
        {"prompt": "p", "a_text": "A", "b_text": "B", "winner": "a"},
        {"prompt": "p", "a_text": "C", "b_text": "B", "winner": "b"},
        {"prompt": "p", "a_text": "A", "b_text": "C", "winner": "a"},
        {"prompt": "q", "a_text": "D", "b_text": "E", "winner": "b"},
    ])
    lists = text_lists(pairs)
    assert lists.responses == [["A", "B", "C"], ["E", "D"]]
    np.testing.assert_array_equal(lists.labels[0], [2, 1, 0])
    with pytest.raises(DataError, match="texts"):
        text_lists(PreferenceDataset.from_records([{"ranking": ["x", "y"]}]))
    with pytest.raises(DataError, match="ranking or pairwise"):
        text_lists(PreferenceDataset.from_records([{"item": "x", "scores": {"overall": 1.0}}]))


def _two_response_rankings(recs: list[dict[str, Any]]) -> PreferenceDataset:
    """Each pairwise record as a ranking of its two responses, the winner first."""
    return PreferenceDataset.from_records([
        {"prompt": r["prompt"], "ranking": ["w", "l"],
         "texts": [r["a_text"], r["b_text"]] if r["winner"] == "a" else [r["b_text"],
                                                                          r["a_text"]]}
        for r in recs])


def test_plackett_luce_with_two_responses_is_dpo(tiny) -> None:
    """Through the trainer: PL over [chosen, rejected] lists = DPO on the same pairs."""
    model, tok = tiny
    policy = perturbed_copy(model)
    recs = synthetic_records(6, seed=9)
    pair_ds = PreferenceDataset.from_records(recs)
    rank_ds = _two_response_rankings(recs)
    dpo = AlignTrainer(policy, tok, _cfg(), reference_model=model)
    pl = AlignTrainer(policy, tok, _cfg(loss="plackett_luce"), reference_model=model)
    pairs, lists = dpo.prepare(pair_ds), pl.prepare(rank_ds)
    assert lists.sizes.tolist() == [2] * 6
    idx = np.arange(6)
    loss_d, st_d = dpo.batch_loss(pairs, idx, *dpo.reference_logps(pairs))
    loss_p, st_p = pl.list_batch_loss(lists, idx, pl.reference_list_logps(lists))
    assert st_d["loss"].std() > 1e-3  # not all ln 2
    torch.testing.assert_close(st_p["loss"], st_d["loss"], atol=1e-6, rtol=0)
    torch.testing.assert_close(loss_p, loss_d, atol=1e-6, rtol=0)
    torch.testing.assert_close(st_p["chosen_rewards"], st_d["chosen_rewards"], atol=1e-6, rtol=0)


def _concordance(trainer: AlignTrainer, dataset: PreferenceDataset) -> tuple[float, float]:
    """Share of ordered pairs (ψ_i > ψ_j) of each list with s_i > s_j, for s = implicit reward
    β·log π/π_ref and for s = log π alone."""
    lists = trainer.prepare(dataset)
    ref = trainer.reference_list_logps(lists)
    with torch.no_grad():
        batch = collate_lists(lists, np.arange(len(lists)), trainer.pad_id)
        logps, _ = sequence_logps(trainer.model.eval(), batch)
    mask, labels = batch["mask"], batch["labels"]
    pol = to_grid(logps, mask)
    better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    out = []
    for s in (pol - to_grid(ref[batch["flat"]], mask), pol):
        out.append(float((s[:, :, None] > s[:, None, :])[better].float().mean()))
    return out[0], out[1]


@pytest.mark.parametrize("loss", ["plackett_luce", "lipo"])
def test_listwise_training_learns_the_ranking(tiny, tmp_path: Path, loss: str) -> None:
    model, tok = tiny
    ref = copy.deepcopy(model)
    train, test = synthetic_rankings(24, seed=1), synthetic_rankings(12, seed=2)
    trainer = AlignTrainer(model, tok, _cfg(loss=loss, max_steps=8, packing=True),
                           reference_model=ref)
    _, policy_before = _concordance(trainer, test)
    hist = trainer.train(train, out_dir=tmp_path)
    reward_after, policy_after = _concordance(trainer, test)
    assert hist[-1]["loss"] < 0.8 * hist[0]["loss"]
    assert reward_after > 0.85
    assert policy_after > policy_before + 0.1
    assert hist[-1]["reward_accuracy"] > hist[0]["reward_accuracy"]
    assert (tmp_path / REFERENCE_FILE).exists() and (tmp_path / "policy").is_dir()
    res = trainer.evaluate(synthetic_rankings(6, seed=3))  # judged on rank-broken pairs
    assert res["n"] == 6 * 6 and res["implicit_reward_accuracy"] > 0.8


def test_list_reference_cache(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    trainer = AlignTrainer(model, tok, _cfg(loss="lipo"))
    lists = trainer.prepare(synthetic_rankings(5, seed=4))
    cache = tmp_path / "ref.safetensors"
    first = trainer.reference_list_logps(lists, cache)
    assert first.shape == (int(lists.sizes.sum()),)
    with torch.no_grad():  # change the model: a cache hit must not recompute
        for p in model.parameters():
            p.add_(0.05)
    assert torch.equal(trainer.reference_list_logps(lists, cache), first)
    other = tokenize_lists(tok, text_lists(synthetic_rankings(5, seed=5)))
    assert not torch.equal(trainer.reference_list_logps(other, cache)[:3], first[:3])
    # a pairwise cache of other data in the same file is not mistaken for the lists'
    dpo = AlignTrainer(model, tok, _cfg())
    dpo.reference_logps(dpo.prepare(synthetic_preferences(4, seed=6)), cache)
    assert trainer.reference_list_logps(lists, cache).shape == first.shape


def test_pairs_grouped_by_prompt_train_listwise(tiny) -> None:
    model, tok = tiny
    ds = synthetic_preferences(40, seed=7)  # prompts repeat: several pairs per prompt
    trainer = AlignTrainer(model, tok, _cfg(loss="lipo", max_steps=3))
    lists = trainer.prepare(ds)
    assert len(lists) < 40 and max(len(r) for r in lists.response_ids) > 2
    hist = trainer.train(ds)
    assert hist[-1]["loss"] < hist[0]["loss"]


# ----------------------------------------------------------------------------- CLI
def test_cli_listwise_and_packing(tiny_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "rank.jsonl"
    ds = synthetic_rankings(8, seed=1)
    data.write_text("\n".join(json.dumps({"prompt": p, "ranking": list(r), "texts": list(t)})
                              for p, r, t in zip(ds.column("prompt"), ds.column("ranking"),
                                                 ds.column("texts"), strict=True)) + "\n")
    out = tmp_path / "run"
    res = runner.invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--loss",
                                    "plackett_luce", "--out", str(out), "--max-steps", "2",
                                    "--batch-size", "4", "--lr", "1e-3", "--packing", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["steps"] == 2 and np.isfinite(rec["loss"])
    assert json.loads((out / "align_config.json").read_text())["config"]["packing"] is True
    res = runner.invoke(align_app, ["eval", str(out), str(data), "--json",
                                    "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n"] == 8 * 6
    # ranking data without texts, and rating data: one error line, exit status 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "ranking": ["x", "y"]}\n')
    res = runner.invoke(align_app, ["train", str(bad), "--base", str(tiny_dir), "--loss", "lipo",
                                    "--out", str(tmp_path / "r2"), "--max-steps", "1"])
    assert res.exit_code == 2 and "texts" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    rating = tmp_path / "rating.jsonl"
    rating.write_text('{"prompt": "p", "text": "x", "scores": {"overall": 1}}\n')
    res = runner.invoke(align_app, ["train", str(rating), "--base", str(tiny_dir), "--loss",
                                    "plackett_luce", "--out", str(tmp_path / "r3"),
                                    "--max-steps", "1"])
    assert res.exit_code == 2 and "ranking or pairwise" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_listwise_packed_exact_resume(tiny_dir: Path, tmp_path: Path) -> None:
    """Lists follow the same (seed, step) order: 3 steps straight = 1 step, kill, resume."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefkit.align.trainer import latest_checkpoint

    data = synthetic_rankings(10, seed=8)

    def fresh() -> AlignTrainer:
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        return AlignTrainer(model, tok, _cfg(loss="lipo", max_steps=3, batch_size=3,
                                             packing=True, save_every=1))

    straight = fresh()
    straight.train(data, out_dir=tmp_path / "a")
    fresh().train(data, out_dir=tmp_path / "b", max_steps=1)
    assert latest_checkpoint(tmp_path / "b").name == "step-00000001"
    resumed = fresh()
    resumed.train(data, out_dir=tmp_path / "b", resume=True)
    assert resumed.step == 3
    assert straight.history[-1]["loss"] != straight.history[0]["loss"]
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]


def test_listwise_eval_is_the_runs_own_loss(tiny) -> None:
    """``evaluate_policy`` on a listwise loss: PL over [chosen, rejected] lists gives DPO's
    evaluation of the same pairs; on longer lists it equals the trainer's batch loss."""
    from prefkit.align.diagnostics import evaluate_policy

    model, tok = tiny
    policy = perturbed_copy(model)
    recs = synthetic_records(6, seed=4)
    pair_ds = PreferenceDataset.from_records(recs)
    rank_ds = _two_response_rankings(recs)
    dpo = evaluate_policy(policy, tok, pair_ds, reference_model=model, loss="dpo")
    pl = evaluate_policy(policy, tok, rank_ds, reference_model=model, loss="plackett_luce")
    assert pl["n"] == dpo["n"] == 6 and pl["lists"] == 6
    assert dpo["loss"] != pytest.approx(np.log(2), abs=1e-4)
    for key in ("loss", "implicit_reward_accuracy", "ranking_accuracy"):
        assert pl[key] == pytest.approx(dpo[key], abs=1e-6), key
    ranked = synthetic_rankings(5, seed=2)
    for loss in ("plackett_luce", "lipo"):
        trainer = AlignTrainer(policy, tok, _cfg(loss=loss), reference_model=model)
        lists = trainer.prepare(ranked)
        with torch.no_grad():
            expected, _ = trainer.list_batch_loss(lists, np.arange(len(lists)),
                                                  trainer.reference_list_logps(lists))
        got = evaluate_policy(policy, tok, ranked, reference_model=model, loss=loss)
        assert got["loss"] == pytest.approx(float(expected), abs=1e-5)
        assert got["n"] == 5 * 6 and got["lists"] == 5
    with pytest.raises(ValueError, match="reference"):
        evaluate_policy(policy, tok, ranked, loss="plackett_luce")
