"""The optional vLLM sampler: the import guard (one line naming the extra, from the API and the
command line), the conversion of vLLM's outputs, and the sampler hook of ``sample_rollout``.
No GPU here, so no vLLM engine is started."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.online.sampling import rollout_token_logps, sample_rollout
from prefkit.align.online.vllm_sampler import (
    VLLMSampler,
    attach_sampler,
    completion_rows,
    require_vllm,
)
from prefkit.errors import DataError


def test_missing_vllm_is_one_line_naming_the_extra(monkeypatch, tiny_dir, tmp_path) -> None:
    from prefkit.cli.align import align_app

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm → ImportError
    with pytest.raises(DataError, match=r"pip install 'prefkit\[vllm\]'"):
        require_vllm()
    with pytest.raises(DataError, match=r"prefkit\[vllm\]"):
        VLLMSampler(str(tiny_dir))
    prompts = tmp_path / "p.txt"
    prompts.write_text("tell me about the cat ?\n")
    res = CliRunner().invoke(align_app, [
        "online", str(tiny_dir), "--labeller", "gold:politeness", "--prompts", str(prompts),
        "--out", str(tmp_path / "run"), "--sampler", "vllm"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "prefkit[vllm]" in res.output, res.output
    assert not (tmp_path / "run").exists()


def _completion(ids, reason):
    return SimpleNamespace(token_ids=ids, finish_reason=reason)


def test_completion_rows_cut_at_eos_and_flag_truncation() -> None:
    eos = 3
    outputs = [SimpleNamespace(outputs=[_completion([5, 6, 3, 7], "stop"),
                                        _completion([5, 6], "stop")]),
               SimpleNamespace(outputs=[_completion([8, 8, 8], "length"),
                                        _completion((9, 3), "stop")])]
    rows, truncated = completion_rows(outputs, eos)
    assert rows == [[5, 6, 3], [5, 6, 3], [8, 8, 8], [9, 3]]
    assert truncated == [False, False, True, False]


class _ListSampler:
    """Answers with fixed completions (token ids), recording what it is asked."""

    def __init__(self, rows):
        self.rows, self.calls, self.synced = rows, [], []

    def sync(self, model):
        self.synced.append(model)

    def generate(self, prompt_rows, *, n, eos_id, **kw):
        self.calls.append((len(prompt_rows), n, kw["seed"]))
        return completion_rows([SimpleNamespace(outputs=[_completion(r, "length")
                                                         for r in self.rows[i * n:(i + 1) * n]])
                                for i in range(len(prompt_rows))], eos_id)


def test_an_attached_sampler_generates_the_rollout(tiny) -> None:
    model, tok = tiny
    texts = ["sure ! the cat is kind .", "no . the dog is dull .", "of course .", "whatever ."]
    rows = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
    sampler = _ListSampler(rows)
    attach_sampler(model, sampler)
    prompts = ["tell me about the cat ?", "describe the dog ?"]
    rollout = sample_rollout(model, tok, prompts, n=2, max_new_tokens=12, seed=7)
    assert sampler.synced == [model] and sampler.calls == [(2, 2, 7)]
    assert rollout.texts == texts
    assert rollout.lengths.tolist() == [len(r) for r in rows]
    assert not rollout.truncated.any()  # EOS found: not cut by the length limit
    # log-probs are the policy's own, recomputed after generation
    torch.testing.assert_close(rollout.token_logps, rollout_token_logps(model, rollout))
    attach_sampler(model, None)
    plain = sample_rollout(model, tok, prompts, n=2, max_new_tokens=12, seed=7)
    assert len(sampler.calls) == 1 and len(plain) == 4
