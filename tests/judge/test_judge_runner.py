"""The run every judge protocol shares (``prefkit.judge.runner``): resume from the output, the
torn last line of a killed run, foreign lines, and the lock that keeps two runs out of one file —
for grades as for pairwise judgments."""

from __future__ import annotations

import fcntl
import json

import pytest

from prefkit.errors import DataError
from prefkit.judge.backends.base import JudgeReply
from prefkit.judge.grading import GradeItems, grade
from prefkit.judge.runner import JsonlOutput


class _Rater:
    """An in-process judge rating every response 7 out of 10; counts what it is asked."""

    name = "rater"

    def __init__(self) -> None:
        self.asked = 0

    def complete(self, requests):
        self.asked += len(requests)
        return [JudgeReply("Rating: [[7]]") for _ in requests]


def _items(n: int) -> GradeItems:
    ids = [f"r{k}" for k in range(n)]
    return GradeItems("<test>", ids, ["q"] * n, [f"answer {k}" for k in range(n)], [None] * n,
                      ["m"] * n)


def test_written_reads_without_changing_read_back_cuts_and_checks(tmp_path):
    out = tmp_path / "g.jsonl"
    good = json.dumps({"format": "prefkit-grade", "id": "r0"})
    out.write_text(good + "\n" + '{"format": "prefkit-grade", "id": "r1", "sc')
    output = JsonlOutput(out, fmt="prefkit-grade")
    assert output.written() == {"r0"} and out.read_text().endswith('"sc')  # untouched
    assert output.read_back() == {"r0"} and out.read_text() == good + "\n"  # torn line cut
    out.write_text(good + "\n" + json.dumps({"format": "prefkit-judgment", "id": "r1"}) + "\n")
    with pytest.raises(DataError, match=r"g\.jsonl:2: not a prefkit-grade line"):
        output.read_back()


def test_a_resumed_grading_run_asks_only_what_is_missing(tmp_path):
    out, rater = tmp_path / "g.jsonl", _Rater()
    assert grade(_items(2), rater, out).written == 2
    summary = grade(_items(3), rater, out)
    assert (summary.already_done, summary.written, rater.asked) == (2, 1, 3)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["r0", "r1", "r2"]


def test_two_grading_runs_never_append_to_one_output(tmp_path):
    out, rater = tmp_path / "g.jsonl", _Rater()
    out.touch()
    with open(out, "a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DataError, match="another run is writing"):
            grade(_items(2), rater, out)
    assert out.read_text() == "" and rater.asked == 0
