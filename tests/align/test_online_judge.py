"""``--labeller judge:URL`` against a live OpenAI-compatible judge: a real server process on
127.0.0.1 (tests/judge/fake_openai_server.py: ``[[A]]`` when the answer shown first is longer,
``[[B]]`` when shorter, ``[[C]]`` when equal) labels online steps from the command line and in
process; killed mid-run, it stops the next step with one line and the last checkpoint is kept."""

from __future__ import annotations

import json
import socket

import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.online.config import OnlineConfig
from prefkit.align.online.labellers import LabellerError
from prefkit.align.online.trainer import OnlineTrainer
from prefkit.align.tiny import synthetic_records

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})[:4]
MODEL = "judge-test"  # the model name the fake server answers to


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def judge_server(fake_judge):
    """(base URL, process) of a fresh fake judge server."""
    with fake_judge() as (url, proc):
        yield url, proc


def _chat_requests(url: str) -> int:
    import httpx

    return int(httpx.get(f"{url}/stats", timeout=5).json()["chat"])


def test_judge_labeller_live_cli_step(judge_server, tiny_dir, tmp_path) -> None:
    from prefkit.cli.align import align_app
    from prefkit.cli.align_online import make_labeller

    url, _ = judge_server
    lab = make_labeller(f"judge:{url}", judge_model=MODEL)
    # the judge's rule, read back through both orders: longer wins, equal length ties
    p = lab.preferences(["x"] * 3, ["sure ! the cat is kind .", "no .", "a b"],
                        ["sure !", "whatever . the dog is dull .", "c d"])
    assert p.tolist() == [1.0, 0.0, 0.5]
    asked = _chat_requests(url)
    assert asked == 6  # 3 pairs × 2 orders

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": x}) + "\n" for x in PROMPTS))
    res = CliRunner().invoke(align_app, [
        "online", str(tiny_dir), "--labeller", f"judge:{url}", "--judge-model", MODEL,
        "--algo", "online-dpo", "--prompts", str(prompts), "--out", str(tmp_path / "run"),
        "--max-steps", "1", "--prompts-per-step", "2", "--max-new-tokens", "6", "--lr", "1e-3",
        "--json"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.output[res.output.index("{"):])
    assert 0.0 <= last["win_rate"] <= 1.0 and last["step"] == 1
    assert (tmp_path / "run" / "policy" / "config.json").is_file()
    # 2 pairs labelled, and 2 samples against the reference's: 4 pairs × 2 orders
    assert _chat_requests(url) - asked == 8

    res = CliRunner().invoke(align_app, [
        "online", str(tiny_dir), "--labeller", f"judge:http://127.0.0.1:{_free_port()}",
        "--judge-model", MODEL, "--prompts", str(prompts), "--out", str(tmp_path / "down")])
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and res.output.count("\n") == 1, res.output
    assert not (tmp_path / "down").exists()


def test_judge_killed_mid_run_stops_the_step_and_keeps_the_checkpoint(
        judge_server, tiny, tmp_path) -> None:
    from safetensors.torch import load_file

    from prefkit.cli.align_online import make_labeller

    url, proc = judge_server
    model, tok = tiny
    lab = make_labeller(f"judge:{url}", judge_model=MODEL)

    def kill_after_first_step(trainer, record) -> None:
        proc.kill()
        proc.wait(timeout=10)

    cfg = OnlineConfig(algo="sppo", max_steps=3, save_every=1, prompts_per_step=2,
                       group_size=2, max_new_tokens=6, learning_rate=1e-3)
    trainer = OnlineTrainer(model, tok, lab, PROMPTS, cfg)
    with pytest.raises(LabellerError) as err:
        trainer.train(tmp_path / "run", callback=kill_after_first_step, progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"step 2: judge:{url}: ")
    assert "cannot reach the judge endpoint" in message and "ConnectError" in message
    assert "step-00000001 is kept" in message
    assert trainer.step == 1
    saved = load_file(tmp_path / "run" / "checkpoints" / "step-00000001" /
                      "trainable.safetensors")
    params = dict(trainer.model.named_parameters())
    assert all(torch.equal(saved[k], params[k].detach()) for k in saved)  # no update made
