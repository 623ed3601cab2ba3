"""Fixtures for the format-adapter tests: the real data folder, compressed copies, small files."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prefkit.errors import DataError


@pytest.fixture
def gz_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """A gzip-compressed copy of a file, named ``<name>.gz``, in ``tmp_path``."""

    def compress(path: Path) -> Path:
        target = tmp_path / (path.name + ".gz")
        with open(path, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return target

    return compress


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records (dicts, or raw strings written as they are) as JSON lines."""

    def write(records: list[Any], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[..., Path]:
    """Write records as an indented JSON array (one field per line, as the releases are)."""

    def write(records: list[Any], name: str = "data.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(records, indent=4), encoding="utf-8")
        return path

    return write


@pytest.fixture
def one_line_error() -> Callable[..., DataError]:
    """Run ``func`` and return its DataError after checking it is one line naming what is asked."""

    def check(
        func: Callable[[], Any],
        *,
        line: int | None = None,
        field: str | None = None,
        reason: str | None = None,
    ) -> DataError:
        with pytest.raises(DataError) as info:
            func()
        err = info.value
        message = str(err)
        assert "\n" not in message
        if line is not None:
            assert err.line == line, message
            assert f":{line}:" in message
        if field is not None:
            assert err.field == field, message
            assert f"field '{field}'" in message
        if reason is not None:
            assert reason in message, message
        return err

    return check
