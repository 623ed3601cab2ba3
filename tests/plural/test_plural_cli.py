"""``prefkit plural train / adapt / eval`` (and the hidden 0.1 alias ``fit``)."""

from __future__ import annotations

import json
import re

import numpy as np
from plural_helpers import item_groups, text_groups
from typer.testing import CliRunner

from prefkit.cli.app import app

runner = CliRunner()


def test_train_adapt_eval_mixture(tmp_path):
    _, train, test, new = item_groups()
    train.write(str(tmp_path / "train.jsonl"))
    test.write(str(tmp_path / "test.jsonl"))
    new.write(str(tmp_path / "new.jsonl"))
    res = runner.invoke(app, ["plural", "train", str(tmp_path / "train.jsonl"), "--out",
                              str(tmp_path / "m"), "--components", "3"])
    assert res.exit_code == 0, res.output
    summary = re.search(r"training accuracy ([0-9.]+), log-loss ([0-9.]+)", res.output)
    assert summary and float(summary[1]) >= 0.9 and float(summary[2]) < 0.4, res.output
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "m"), str(tmp_path / "test.jsonl"),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"accuracy", "log_loss", "ece", "ece_symmetric", "n", "worst_user",
                        "worst_user_accuracy", "users", "users_evaluated"}
    assert out["accuracy"] >= 0.9 and out["users"] == 60 and out["ece_symmetric"] is True
    res = runner.invoke(app, ["plural", "adapt", str(tmp_path / "m"), str(tmp_path / "new.jsonl"),
                              "--out", str(tmp_path / "m2")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "m2"), str(tmp_path / "new.jsonl"),
                              "--json"])
    assert json.loads(res.stdout)["accuracy"] >= 0.9


def test_fit_is_a_hidden_alias_of_train(tmp_path):
    """#11 item 7: one training verb; ``fit`` still works for one release but is not listed."""
    _, train, _, _ = item_groups()
    train.write(str(tmp_path / "train.jsonl"))
    res = runner.invoke(app, ["plural", "fit", str(tmp_path / "train.jsonl"), "--out",
                              str(tmp_path / "m"), "--components", "2"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "config.json").exists()
    listing = runner.invoke(app, ["plural", "--help"]).output
    assert "train" in listing and " fit " not in listing


def test_eval_worst_user_respects_min_group_size_and_by(tmp_path):
    """#12 item 16: the per-user figure is named for what it is, ignores users with fewer than
    --min-group-size records, and --by gives rm eval's ``"by": {value: {metrics}}`` shape."""
    _, train, test, _ = item_groups()
    train.write(str(tmp_path / "train.jsonl"))
    users = np.asarray(test.column("user_id"), dtype=object)
    # one user with a single test record that the model gets wrong
    lonely = test.filter(users == users[0]).take([0])
    flipped = lonely.replace(lonely.table.set_column(
        lonely.table.column_names.index("user_id"), "user_id",
        __import__("pyarrow").array(["lonely"])))
    source = np.where(np.arange(len(test)) % 2 == 0, "even", "odd")
    mixed = type(test).concat([test.with_column("source", source),
                               flipped.with_column("source", ["tiny"])])
    mixed.write(str(tmp_path / "test.jsonl"))
    res = runner.invoke(app, ["plural", "train", str(tmp_path / "train.jsonl"), "--out",
                              str(tmp_path / "m"), "--components", "3"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "m"), str(tmp_path / "test.jsonl"),
                              "--json", "--by", "source"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "worst_group_accuracy" not in out
    assert out["worst_user"] != "lonely" and out["worst_user_accuracy"] > 0.5
    assert out["users"] == 61 and out["users_evaluated"] <= 60
    assert set(out["by"]) == {"even", "odd"}  # "tiny" (1 record) is below the minimum size
    assert out["by_groups_left_out"] == 1 and out["by_min_group_size"] == 5
    assert set(out["by"]["even"]) == {"accuracy", "log_loss", "ece", "n"}
    assert sum(row["n"] for row in out["by"].values()) == out["n"] - 1
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "m"), str(tmp_path / "test.jsonl"),
                              "--json", "--by", "source", "--min-group-size", "1"])
    out = json.loads(res.stdout)
    assert set(out["by"]) == {"even", "odd", "tiny"} and out["users_evaluated"] == 61
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "m"), str(tmp_path / "test.jsonl"),
                              "--by", "nope"])
    assert res.exit_code == 2 and "nope" in res.output


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_train_on_one_or_two_users_and_on_polis_votes(tmp_path):
    """#12 item 12: these ended in exit 1 ('n_samples=1 should be >= n_clusters=2', IndexError)."""
    rng = np.random.default_rng(0)
    for users in (1, 2):
        rows = [{"a": f"i{i}", "b": f"i{j}", "winner": "a", "user_id": f"u{k % users}"}
                for k, (i, j) in enumerate(rng.choice(5, (20, 2)).tolist()) if i != j]
        _write(tmp_path / f"u{users}.jsonl", rows)
        for k, extra in enumerate(([], ["--components", "3"], ["--model", "bt-mixture"])):
            res = runner.invoke(app, ["plural", "train", str(tmp_path / f"u{users}.jsonl"),
                                      "--out", str(tmp_path / f"m{users}-{k}"), *extra])
            assert res.exit_code == 0, (users, extra, res.output)
    votes = tmp_path / "votes.csv"
    lines = ["timestamp,datetime,comment-id,voter-id,vote"]
    for voter in range(8):
        for comment in range(5):
            vote = [1, -1, 0][(voter + comment * (1 + voter % 2)) % 3]
            lines.append(f"{1000 + voter * 10 + comment},x,{comment},{voter},{vote}")
    votes.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["plural", "train", str(votes), "--out", str(tmp_path / "polis")])
    assert res.exit_code == 0, res.output
    assert "rating records turned into" in res.output
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "polis"), str(votes), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] > 0


def test_out_never_deletes_foreign_files_and_needs_force(tmp_path):
    """#12 item 1: --out replaced the directory through shutil.rmtree."""
    _, train, _, _ = item_groups()
    train.write(str(tmp_path / "train.jsonl"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    args = ["plural", "train", str(tmp_path / "train.jsonl"), "--components", "2", "--out"]
    res = runner.invoke(app, [*args, str(mine)])
    assert res.exit_code == 2 and "not written by prefkit" in res.output
    assert (mine / "notes.txt").read_text() == "keep me"
    assert runner.invoke(app, [*args, str(tmp_path / "m")]).exit_code == 0
    res = runner.invoke(app, [*args, str(tmp_path / "m")])
    assert res.exit_code == 2 and "--force" in res.output
    res = runner.invoke(app, [*args, str(tmp_path / "m"), "--force"])
    assert res.exit_code == 0, res.output


def test_train_feature_model_and_errors(tmp_path):
    _, train, _, _ = text_groups()
    train.write(str(tmp_path / "train.jsonl"))
    res = runner.invoke(app, ["plural", "train", str(tmp_path / "train.jsonl"), "--out",
                              str(tmp_path / "p"), "--model", "pal-a", "--components", "3"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plural", "eval", str(tmp_path / "p"), str(tmp_path / "train.jsonl"),
                              "--json"])
    assert json.loads(res.stdout)["accuracy"] >= 0.85
    bad = [
        ["plural", "train", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")],
        ["plural", "train", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "x"),
         "--model", "nope"],
        ["plural", "train", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "x"),
         "--components", "zero"],
        ["plural", "eval", str(tmp_path / "nomodel"), str(tmp_path / "train.jsonl")],
    ]
    for args in bad:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "x").exists()
