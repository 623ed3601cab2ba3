"""The generation job on the local engine: per-record seeds make the output independent of the
shard size (so of the worker that generates a record), greedy decoding equals Hugging Face
``generate`` called directly, and prompt files with problems fail in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefkit.errors import DataError
from prefkit.jobs.generate import read_prompt_table, record_seed, run_generate_job

PROMPTS = ["tell me about the cat ?", "describe the river ?", "say something about the robot ?",
           "what do you think of the song ?", "describe the garden ?"]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sampled_output_does_not_depend_on_shards(tmp_path: Path, tiny_lm: Path) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{k}", "prompt": p}) + "\n"
                              for k, p in enumerate(PROMPTS)))
    prompts = read_prompt_table(source)
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    kwargs = {"n": 3, "max_new_tokens": 8, "temperature": 1.0, "seed": 7}
    assert run_generate_job(prompts, tiny_lm, one, shard_rows=100, **kwargs)["shards"] == 1
    assert run_generate_job(prompts, tiny_lm, many, shard_rows=2, **kwargs) == {
        "records": 5, "shards": 3, "resumed": 0, "responses": 15}
    assert one.read_bytes() == many.read_bytes()
    got = lines(one)
    assert [(r["record"], r["id"], r["prompt"]) for r in got] == [
        (k, f"q{k}", p) for k, p in enumerate(PROMPTS)]
    assert all(len(r["responses"]) == 3 for r in got)
    other = tmp_path / "other-seed.jsonl"
    run_generate_job(prompts, tiny_lm, other, **{**kwargs, "seed": 8})
    assert [r["responses"] for r in lines(other)] != [r["responses"] for r in got]
    assert record_seed(7, 0) != record_seed(7, 1) != record_seed(8, 1)


def test_greedy_equals_hugging_face_generate(tmp_path: Path, tiny_lm: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = tmp_path / "prompts.parquet"
    pq.write_table(pa.table({"prompt": PROMPTS[:3]}), source)
    out = tmp_path / "greedy.jsonl"
    run_generate_job(read_prompt_table(source), tiny_lm, out, n=2, max_new_tokens=6,
                     temperature=0.0, shard_rows=2)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    for record in lines(out):
        text = tokenizer.apply_chat_template([{"role": "user", "content": record["prompt"]}],
                                             tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 do_sample=False, max_new_tokens=6,
                                 pad_token_id=tokenizer.pad_token_id)
        want = tokenizer.decode(gen[0, ids.shape[1]:], skip_special_tokens=True).strip()
        assert record["responses"] == [want, want]
        assert "id" not in record


def test_bad_prompt_files_fail_in_one_line(tmp_path: Path, tiny_lm: Path) -> None:
    source = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": ["a"]}), source)
    with pytest.raises(DataError, match="no 'prompt' column"):
        read_prompt_table(source)
    with pytest.raises(DataError, match="not a model directory"):
        run_generate_job(pa.table({"prompt": ["x"], "id": pa.array([None], pa.string())}),
                         tmp_path, tmp_path / "o.jsonl")


def test_jobs_generate_command(tmp_path: Path, tiny_lm: Path) -> None:
    from typer.testing import CliRunner

    from prefkit.cli.app import app

    source = tmp_path / "prompts.txt"
    source.write_text("\n".join(PROMPTS[:2]) + "\n")
    out = tmp_path / "g.jsonl"
    result = CliRunner().invoke(app, ["jobs", "generate", str(source), "--model", str(tiny_lm),
                                      "--out", str(out), "--n", "2", "--max-new-tokens", "4",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["responses"] == 4
    assert [r["prompt"] for r in lines(out)] == PROMPTS[:2]
