"""The online loop on the tiny model: online DPO = the offline step on the same pairs, every
algorithm runs with its diagnostics, exact resume, labeller failures (a real reward server
process), and the command line."""

from __future__ import annotations

import copy
import itertools
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.online.config import ALGORITHMS, OnlineConfig
from prefkit.align.online.gold import politeness
from prefkit.align.online.labellers import FunctionLabeller, LabellerError
from prefkit.align.online.remote import RemoteRewardLabeller
from prefkit.align.online.trainer import OnlineTrainer
from prefkit.align.tiny import synthetic_records

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})[:8]
SMALL = {"prompts_per_step": 2, "group_size": 2, "max_new_tokens": 8, "learning_rate": 5e-3}


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_online_dpo_step_equals_offline_step(tiny) -> None:
    from prefkit.align.config import AlignConfig
    from prefkit.align.trainer import AlignTrainer
    from prefkit.data import PreferenceDataset

    model, tok = tiny
    base, offline_model = copy.deepcopy(model), copy.deepcopy(model)
    cfg = OnlineConfig(algo="online-dpo", prompts_per_step=6, max_new_tokens=30, beta=0.1,
                       learning_rate=1e-2, max_steps=1, seed=3)
    online = OnlineTrainer(model, tok, politeness, PROMPTS, cfg, reference_model=base)
    rollout = online._sample(online.step_prompts(0), 2, online.step_seed(0))
    online.train(progress=False)
    # the same pairs, as offline data: texts, labels from the same labeller
    prompts, texts = rollout.sample_prompts, rollout.texts
    gold = politeness(prompts, texts)
    records = [{"prompt": prompts[2 * k], "a_text": texts[2 * k], "b_text": texts[2 * k + 1],
                "winner": "a" if gold[2 * k] > gold[2 * k + 1] else "b"}
               for k in range(len(texts) // 2) if gold[2 * k] != gold[2 * k + 1]]
    n = len(records)
    assert n >= 3
    # the offline trainer visits its data in the order randperm(n) (seed, step 0)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3 * 1_000_003)).tolist()
    ordered: list = [None] * n
    for k, i in enumerate(perm):
        ordered[i] = records[k]
    offline = AlignTrainer(offline_model, tok, AlignConfig(
        loss="dpo", beta=0.1, learning_rate=1e-2, batch_size=n, max_steps=1, seed=3),
        reference_model=base)
    offline.train(PreferenceDataset.from_records(ordered, kind="pairwise"), progress=False)
    assert online.history[0]["loss"] == pytest.approx(offline.history[0]["loss"], abs=1e-7)
    after, expected = _weights(online.model), _weights(offline_model)
    assert any(not torch.equal(after[k], _weights(base)[k]) for k in after)  # it moved
    for k in after:
        assert torch.equal(after[k], expected[k]), k


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_algorithm_trains_with_diagnostics(tiny, algo: str) -> None:
    model, tok = tiny
    before = _weights(model)
    cfg = OnlineConfig(algo=algo, max_steps=1, steps_per_round=2, round_prompts=8, **SMALL)
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg, gold=politeness)
    hist = trainer.train(progress=False)
    assert len(hist) == 1
    first = hist[0]
    for key in ("kl", "entropy", "length", "win_rate", "reward", "gold"):
        assert np.isfinite(first[key]), key
    assert first["entropy"] > 0 and 1 <= first["length"] <= 8
    assert 0 <= first["win_rate"] <= 1
    assert abs(first["kl"]) < 1e-4  # step 1 samples from the initial policy
    assert any(np.isfinite(h["loss"]) for h in hist)
    assert any(not torch.equal(v, before[k]) for k, v in _weights(trainer.model).items())


@pytest.mark.parametrize(("algo", "extra", "steps", "first"), [
    ("grpo", {"transform": "lsc", "length_penalty": 0.01}, 2, 1),
    # resumed mid-round, with the reference refreshed at step 2 (snapshot + round file)
    ("iterative-dpo", {"steps_per_round": 2, "round_prompts": 4, "refresh_every": 2}, 4, 3),
])
def test_exact_resume(tiny_dir, tmp_path, algo, extra, steps, first) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def run(out, max_steps, resume=False):
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        cfg = OnlineConfig(algo=algo, max_steps=steps, save_every=1, **SMALL, **extra)
        trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
        trainer.train(out, max_steps=max_steps, resume=resume, progress=False)
        return trainer

    straight = run(tmp_path / "a", steps)
    run(tmp_path / "b", first)
    resumed = run(tmp_path / "b", steps, resume=True)
    assert resumed.step == steps
    for k, v in _weights(straight.model).items():
        assert torch.equal(v, _weights(resumed.model)[k]), k
    assert [h["loss"] for h in straight.history] == pytest.approx(
        [h["loss"] for h in resumed.history], nan_ok=True)
    with pytest.raises(Exception, match="cannot resume with other settings"):
        model, tok = AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(
            tiny_dir)
        cfg = OnlineConfig(algo=algo, max_steps=steps + 1, save_every=1,
                           **{**SMALL, "group_size": 3}, **extra)
        OnlineTrainer(model, tok, politeness, PROMPTS, cfg).train(tmp_path / "b", resume=True,
                                                                  progress=False)


def test_failing_labeller_stops_the_step_and_keeps_the_checkpoint(tiny, tmp_path) -> None:
    model, tok = tiny
    broken = {"now": False}

    def reward(prompts, completions):
        return [float("nan")] * len(completions) if broken["now"] else politeness(prompts,
                                                                                  completions)

    def after_step(trainer, record):
        broken["now"] = True

    cfg = OnlineConfig(algo="rloo", max_steps=3, save_every=1, **SMALL)
    trainer = OnlineTrainer(model, tok, FunctionLabeller(reward, name="flaky-rm"), PROMPTS, cfg)
    with pytest.raises(LabellerError) as err:
        trainer.train(tmp_path / "run", callback=after_step, progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("step 2: flaky-rm: ")
    assert "not finite" in message and "step-00000001 is kept" in message
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "run" / "checkpoints" / "step-00000001" /
                      "trainable.safetensors")
    params = dict(trainer.model.named_parameters())
    assert all(torch.equal(saved[k], params[k].detach()) for k in saved)  # no update was made
    assert trainer.step == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def reward_server():
    servers = []

    def start(mode: str) -> str:
        port = _free_port()
        script = Path(__file__).with_name("_reward_server.py")
        proc = subprocess.Popen([sys.executable, str(script), str(port), mode])
        servers.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.05)
        pytest.fail("reward server did not start")

    yield start
    for proc in servers:
        proc.terminate()
        proc.wait(timeout=10)


def test_remote_reward_labeller(reward_server) -> None:
    url = reward_server("ok")
    texts = ["sure ! the cat is kind .", "no . the cat is awful and dull ."]
    got = RemoteRewardLabeller(url).rewards(["tell me about the cat ?"] * 2, texts)
    assert got == pytest.approx(politeness(["x"] * 2, texts))
    with pytest.raises(LabellerError, match="not finite"):
        RemoteRewardLabeller(reward_server("nan")).rewards(["p"], ["sure"])
    with pytest.raises(LabellerError, match="unreachable"):
        RemoteRewardLabeller(f"http://127.0.0.1:{_free_port()}", timeout=2).rewards(["p"], ["x"])


def test_cli_online(tiny_dir, tmp_path, reward_server) -> None:
    from prefkit.cli.align import align_app

    runner = CliRunner()
    res = runner.invoke(align_app, ["online", "--help"])
    assert res.exit_code == 0
    for name in ALGORITHMS:
        assert name in res.output
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(f'{{"prompt": "{p}"}}\n' for p in PROMPTS))
    url = reward_server("ok")
    args = ["online", str(tiny_dir), "--labeller", f"remote:{url}", "--prompts", str(prompts),
            "--algo", "grpo", "--max-steps", "1", "--group-size", "2", "--prompts-per-step",
            "2", "--max-new-tokens", "6", "--lr", "1e-3", "--gold", "politeness", "--json"]
    res = runner.invoke(align_app, [*args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "policy" / "config.json").is_file()
    assert '"win_rate"' in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": 3}\n')
    res = runner.invoke(align_app, [*args[:5], str(bad), *args[6:], "--out",
                                    str(tmp_path / "x")])
    assert res.exit_code == 2 and "bad.jsonl:2" in res.output
    down = [a if not a.startswith("remote:") else f"remote:http://127.0.0.1:{_free_port()}"
            for a in args]
    res = runner.invoke(align_app, [*down, "--out", str(tmp_path / "down")])
    assert res.exit_code == 2
    assert "error: step 1: remote reward" in res.output and "unreachable" in res.output


def test_overopt_best_of_n_curves(tiny, tmp_path) -> None:
    from prefkit.align.online.gold import politeness_no_repeats
    from prefkit.align.online.overopt import run_overopt
    from prefkit.align.sampling import kl_bon

    model, tok = tiny
    result = run_overopt(model, tok, tmp_path, gold=politeness_no_repeats, prompts=PROMPTS,
                         algos=[], gold_pairs=24, members=2, n_max=8, bon_prompts=4, seeds=[0])
    assert set(result["curves"]) == {"bon/single/0", "bon/ensemble-wco/0", "bon/ensemble-uwo/0"}
    for points in result["curves"].values():
        assert [p["x"] for p in points] == [1, 2, 4, 8]
        assert [p["kl"] for p in points] == pytest.approx([kl_bon(n) for n in (1, 2, 4, 8)])
        proxy = [p["proxy_reward"] for p in points]
        assert all(b >= a - 1e-12 for a, b in itertools.pairwise(proxy))  # E max_n ↑
        assert points[0]["gold"] == pytest.approx(result["curves"]["bon/single/0"][0]["gold"])
    assert result["over_seeds"]["bon/single"]["seeds"] == 1
    for name in ("curves.json", "curves.csv", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "curves.csv").read_text().splitlines()[0] == \
        "method,proxy,seed,x,kl,sqrt_kl,proxy_reward,gold"


def test_refreshing_the_reference_never_changes_the_callers_model(tiny) -> None:
    """SPPO refreshes π_ref in place every N steps: the model passed as ``reference_model``
    must stay as it was (it once got the policy's weights)."""
    model, tok = tiny
    reference = copy.deepcopy(model)
    before = _weights(reference)
    cfg = OnlineConfig(algo="sppo", max_steps=2, refresh_every=1, **SMALL)
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg, reference_model=reference)
    trainer.train(progress=False)
    assert any(not torch.equal(v, before[k]) for k, v in _weights(trainer.reference).items())
    for k, v in _weights(reference).items():
        assert torch.equal(v, before[k]), k


def test_force_never_deletes_a_strangers_file_in_a_run(tmp_path) -> None:
    """``align online --force`` replaces a run's own folders, but refuses (one line, nothing
    deleted) when one of them holds a file prefkit did not write."""
    from prefkit.align.online.trainer import ONLINE_CONFIG, REFERENCE_SNAPSHOTS
    from prefkit.cli.align_online import _prepare_out
    from prefkit.errors import DataError

    out = tmp_path / "run"
    (out / REFERENCE_SNAPSHOTS).mkdir(parents=True)
    (out / REFERENCE_SNAPSHOTS / "step-00000010.safetensors").write_bytes(b"x")
    (out / ONLINE_CONFIG).write_text("{}")
    notes = out / REFERENCE_SNAPSHOTS / "my-notes.txt"
    notes.write_text("mine")
    with pytest.raises(DataError, match=r"--force would delete .*my-notes\.txt"):
        _prepare_out(out, resume=False, force=True)
    assert notes.read_text() == "mine"
    notes.unlink()
    _prepare_out(out, resume=False, force=True)
    assert not (out / REFERENCE_SNAPSHOTS).exists() and not (out / ONLINE_CONFIG).exists()
