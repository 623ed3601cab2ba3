"""``prefkit arena`` commands end to end on a SQLite file, and the selection rules' weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from arena_helpers import task_records
from typer.testing import CliRunner

from prefkit.arena.choose import PairWeights, pair_weights
from prefkit.cli import app
from prefkit.data import read

runner = CliRunner()


def arena(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["arena", *args])
    return result.exit_code, result.stdout, result.stderr


def test_commands_from_init_to_export(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'arena.db'}"
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(r) + "\n" for r in task_records(5)))
    code, _, err = arena("status", "--store", store)
    assert code == 2 and "prefkit arena init" in err and not (tmp_path / "arena.db").exists()
    assert arena("init", "--store", store)[1].startswith(f"arena store {store}: created")
    assert "already at schema revision 0001" in arena("init", "--store", store)[1]
    code, out, _ = arena("add-tasks", str(tasks), "--store", store)
    assert code == 0 and out.startswith("added 5 tasks")
    code, out, _ = arena("add-annotator", "ann", "--store", store, "--url", "http://h:9", "--json")
    info = json.loads(out)
    assert code == 0 and info["link"] == f"http://h:9/signin#token={info['token']}"
    code, _, err = arena("add-annotator", "ann", "--store", store)
    assert code == 2 and "already exists" in err
    from prefkit.arena.store import ArenaStore

    with_store = ArenaStore(store)
    ann = with_store.annotator_for_token(info["token"])
    for task_id, winner in [(1, "a"), (2, "tie"), (3, "skip")]:
        with_store.cast_vote(ann.id, task_id, winner)
    with_store.close()
    status = json.loads(arena("status", "--store", store, "--json")[1])
    assert status["votes_by_winner"] == {"a": 1, "b": 0, "tie": 1, "skip": 1}
    out_file = tmp_path / "votes.parquet"
    code, out, _ = arena("export", "--out", str(out_file), "--store", store)
    assert code == 0 and "2 pairwise records" in out
    assert [r["winner"] for r in read(str(out_file)).to_records()] == ["a", "tie"]
    code, _, err = arena("export", "--out", str(out_file), "--store", store)
    assert code == 2 and "--force" in err  # never overwrites silently
    code, _, err = arena("status", "--store", "nonsense")
    assert code == 2 and err.startswith("error: --store 'nonsense': not a database URL")
    code, _, err = arena("serve", "--store", store, "--host", "0.0.0.0")
    assert code == 2 and "--private" in err  # open pages stay on loopback


def test_rule_weights_follow_the_formulas() -> None:
    items = ["a", "b", "c", "d"]
    # many a–b votes, none on c or d: unseen pairs are the uncertain ones
    ia = np.zeros(40, dtype=np.intp)
    ib = np.ones(40, dtype=np.intp)
    ya = np.r_[np.ones(30), np.zeros(10)]  # a beats b 3 to 1
    arena_w, theta = pair_weights("arena", items, ia, ib, ya)
    from prefkit.choice.active import fit_bt_map

    _, cov = fit_bt_map(4, ia, ib, ya)
    sd_cd = np.sqrt(cov[2, 2] + cov[3, 3] - 2 * cov[2, 3])
    assert np.isclose(arena_w.of("c", "d"), sd_cd)  # no votes: w = √v
    assert arena_w.of("a", "b") < arena_w.of("a", "c") < arena_w.of("c", "d") + 1e-12
    assert np.allclose(arena_w.weights, arena_w.weights.T)
    for rule in ("a-optimal", "rank", "density"):
        w, _ = pair_weights(rule, items, ia, ib, ya, theta0=theta)
        assert w.of("a", "b") < w.of("c", "d"), rule
    uniform, _ = pair_weights("uniform", items, ia, ib, ya)
    assert uniform.of("a", "b") == uniform.of("c", "d") == 1.0
    # drawing follows the weights: c–d candidates win about their share
    weights = PairWeights({"a": 0, "b": 1}, np.array([[0.0, 3.0], [3.0, 0.0]]))
    candidates = [(1, "a", "b"), (2, "x", "y")]  # unknown items get the mean weight (1.5)
    rng = np.random.default_rng(0)
    picks = np.array([weights.pick(candidates, rng) for _ in range(3000)])
    assert abs((picks == 0).mean() - 3.0 / 4.5) < 0.03
