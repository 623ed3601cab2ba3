"""DataError's one line: where (file:line, record), then what; no placeholder when there is
nothing to point at, and command-line options named as they are typed."""

from prefkit.errors import DataError


def test_data_error_lines() -> None:
    assert DataError("must be ≥ 1", field="--workers").message == "--workers: must be ≥ 1"
    assert DataError("no records").message == "no records"
    assert (DataError("expected text", source="a.jsonl", line=3, field="a").message
            == "a.jsonl:3: field 'a': expected text")
    assert DataError("bad", row=4).message == "<data>: record 4: bad"
    assert DataError("two\nlines").message == "two lines"
