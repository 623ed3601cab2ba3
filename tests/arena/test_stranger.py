"""What a first-time user ran into (issue 15, item 3): a file with several labels per pair,
the same file added twice, an empty response beside a full one, a NUL in a text, a file that is
not a database, a port already taken — each a clean result or one ``error:`` line (exit 2)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from arena_helpers import new_store
from typer.testing import CliRunner

from prefkit.arena.app import templates
from prefkit.arena.live import task_style
from prefkit.cli import app

runner = CliRunner()


def arena(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["arena", *args])
    return result.exit_code, result.stdout, result.stderr


def test_duplicate_records_become_one_task_and_a_second_add_adds_nothing(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'arena.db'}"
    pair = {"prompt": "q", "a": "m1", "b": "m2", "a_text": "x", "b_text": "y\x00z"}
    rows = [{**pair, "winner": w} for w in ("a", "b", "tie")]  # three annotators, one pair
    rows.append({**pair, "prompt": "other", "winner": "a"})
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert arena("init", "--store", store)[0] == 0
    code, out, _ = arena("add-tasks", str(data), "--store", store)
    assert code == 0 and out.startswith("added 2 tasks from 4 pairwise records")
    assert "skipped 2 equal to a task already added" in out
    code, out, _ = arena("add-tasks", str(data), "--store", store)
    assert code == 0 and out.startswith("added 0 tasks") and "(2 tasks in the store)" in out
    code, out, _ = arena("add-tasks", str(data), "--store", store, "--keep-duplicates")
    assert code == 0 and out.startswith("added 4 tasks") and "(6 tasks in the store)" in out
    texts = new_store(store).task_texts([1, 2])
    assert texts[1] == ("x", "y\ufffdz")  # PostgreSQL stores no NUL: replaced everywhere


def test_an_empty_response_is_shown_as_empty_never_as_the_model_name() -> None:
    page = templates().get_template("vote.html")
    task = {"id": 1, "prompt": "p", "a": "secret-a", "b": "secret-b", "a_text": None,
            "b_text": "an answer"}
    html = page.render(title="Vote", annotator="x", task=task, recent=[], attributes=())
    assert "(empty response)" in html and "secret-" not in html
    names_only = {**task, "b_text": None}
    html = page.render(title="Vote", annotator="x", task=names_only, recent=[], attributes=())
    assert "secret-a" in html and "secret-b" in html  # a task of bare item names shows them
    assert task_style(None, "ab\n- item") == {"len": (0.0, 9.0), "header_count": (0.0, 0.0),
                                              "list_count": (0.0, 1.0),
                                              "bold_count": (0.0, 0.0)}
    assert task_style(None, None) is None


def test_a_file_that_is_not_a_database_and_a_taken_port_are_one_line_errors(
        tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("hello, not a database\n" * 50)
    for command in ("status", "init", "export"):
        extra = ["--out", str(tmp_path / "v.jsonl")] if command == "export" else []
        code, _, err = arena(command, "--store", f"sqlite:///{junk}", *extra)
        assert code == 2 and err.strip() == (
            f"error: --store sqlite:///{junk}: file is not a database"), (command, err)
    store = f"sqlite:///{tmp_path / 'arena.db'}"
    assert arena("init", "--store", store)[0] == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = arena("serve", "--store", store, "--port", str(port))
    assert code == 2 and err.startswith(f"error: cannot listen on 127.0.0.1:{port}")
