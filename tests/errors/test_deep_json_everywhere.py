"""Deeply nested JSON in any file prefkit reads is a one-line DataError / ModelFileError naming
the file (and line), never a RecursionError: prompts files, the format sniffer's first line,
run directories' JSON, ownership manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefkit.align.online.prompts import read_prompts
from prefkit.core.atomic import MANIFEST, read_manifest
from prefkit.data import read
from prefkit.errors import DataError, ModelFileError

DEEP = "[" * 50_000 + "]" * 50_000


def test_prompts_file_with_deep_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "hi"}\n' + DEEP + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"prompts\.jsonl:2: nesting deeper"):
        read_prompts(path)


def test_format_sniffing_on_deep_first_line(tmp_path: Path) -> None:
    path = tmp_path / "battles.jsonl"
    path.write_text('{"a": ' + DEEP + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"battles\.jsonl"):
        read(str(path))


def test_manifest_deep_is_no_manifest(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"files": ' + DEEP + "}", encoding="utf-8")
    assert read_manifest(tmp_path) is None


def test_align_run_config_deep(tmp_path: Path) -> None:
    from prefkit.align.rundir import CONFIG_FILE, POLICY_DIR, load_policy

    (tmp_path / POLICY_DIR).mkdir()
    (tmp_path / CONFIG_FILE).write_text(DEEP, encoding="utf-8")
    with pytest.raises(ModelFileError, match="unreadable"):
        load_policy(tmp_path)
