"""Untrusted configs are bounded; plain progress lines appear in logs."""

from __future__ import annotations

import io
import os
import sys

import pytest

from prefkit.core import progress
from prefkit.core.limits import LIMITS, check_inside, json_depth_ok, read_config
from prefkit.errors import ModelFileError


def test_depth_check_counts_brackets_outside_strings():
    assert json_depth_ok('{"a": "[[[[[[[[[[[[[["}', limit=3)
    assert json_depth_ok("[[[1]]]", limit=3)
    assert not json_depth_ok("[[[[1]]]]", limit=3)
    assert not json_depth_ok("[" * 20000 + "]" * 20000)


def test_read_config_refuses_deep_large_list_and_fifo(tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ModelFileError, match="nesting deeper"):
        read_config(deep)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="JSON object"):
        read_config(listed)
    monkeypatch.setenv("PREFKIT_MAX_CONFIG_BYTES", "10")
    big = tmp_path / "big.json"
    big.write_text('{"a": "0123456789"}')
    with pytest.raises(ModelFileError, match="PREFKIT_MAX_CONFIG_BYTES"):
        read_config(big)
    assert LIMITS.max_config_bytes == 10
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_config(fifo)  # must not hang


def test_read_config_refuses_symlink_to_device(tmp_path):
    link = tmp_path / "config.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_config(link)


def test_check_inside(tmp_path):
    (tmp_path / "enc").mkdir()
    assert check_inside("enc", tmp_path) == (tmp_path / "enc").resolve()
    with pytest.raises(ModelFileError, match="outside the model directory"):
        check_inside("../elsewhere", tmp_path)
    with pytest.raises(ModelFileError):
        check_inside("/etc", tmp_path)


def test_plain_progress_lines_when_not_a_terminal(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    with progress.progress_bar(True, 4, "encoding", "texts") as advance:
        advance(2)
        advance(2)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("encoding: 2/4 texts (50%)")
    assert lines[-1].startswith("encoding: 4/4 texts (100%)")


def test_progress_disabled_prints_nothing(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    with progress.progress_bar(False, 4, "x") as advance:
        advance(4)
    assert buf.getvalue() == ""
