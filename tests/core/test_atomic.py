"""Atomic writes: modes follow the umask, directories never wipe foreign files."""

from __future__ import annotations

import os
import stat
import time

import pytest

from prefkit.core.atomic import (
    MANIFEST,
    atomic_write_json,
    atomic_write_text,
    check_output_dir,
    clean_stale_temps,
    is_prefkit_dir,
    publish_dir,
)
from prefkit.errors import ModelFileError


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o644


def test_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "b.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o640


def test_json_refuses_nan_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "c.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


def _build(content: str):
    def build(tmp):
        (tmp / "config.json").write_text(content)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "w.bin").write_bytes(b"123")

    return build


def test_publish_new_and_replace_only_with_overwrite(tmp_path):
    out = tmp_path / "model"
    publish_dir(_build("1"), out)
    assert (out / "config.json").read_text() == "1"
    assert is_prefkit_dir(out)
    with pytest.raises(ModelFileError, match="--force"):
        publish_dir(_build("2"), out)
    publish_dir(_build("3"), out, overwrite=True)
    assert (out / "config.json").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp left


def test_foreign_directory_is_never_emptied(tmp_path):
    out = tmp_path / "work"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    for overwrite in (False, True):
        with pytest.raises(ModelFileError, match="not written by prefkit"):
            publish_dir(_build("x"), out, overwrite=overwrite)
    assert (out / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_prefkit_dir_with_added_user_file_is_refused(tmp_path):
    out = tmp_path / "model"
    publish_dir(_build("1"), out)
    (out / "notes.md").write_text("mine")
    with pytest.raises(ModelFileError):
        publish_dir(_build("2"), out, overwrite=True)
    assert (out / "notes.md").read_text() == "mine"
    assert (out / "config.json").read_text() == "1"


def test_empty_existing_directory_and_cwd(tmp_path, monkeypatch):
    out = tmp_path / "empty"
    out.mkdir()
    publish_dir(_build("1"), out)
    assert (out / "config.json").read_text() == "1"
    # "--out ." in a directory holding a user's file
    monkeypatch.chdir(tmp_path / "empty")
    (tmp_path / "empty" / "x.txt").write_text("user")
    with pytest.raises(ModelFileError):
        publish_dir(_build("2"), ".", overwrite=True)
    assert (tmp_path / "empty" / "x.txt").read_text() == "user"


def test_failed_build_leaves_old_model_and_no_temp(tmp_path):
    out = tmp_path / "model"
    publish_dir(_build("1"), out)

    def broken(tmp):
        (tmp / "config.json").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        publish_dir(broken, out, overwrite=True)
    assert (out / "config.json").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_file_in_place_of_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ModelFileError, match="not a directory"):
        check_output_dir(tmp_path / "f")


def test_published_files_follow_the_umask(tmp_path):
    def build(tmp):
        fd = os.open(tmp / "w.bin", os.O_CREAT | os.O_WRONLY, 0o600)  # like safetensors
        os.close(fd)

    old = os.umask(0o022)
    try:
        publish_dir(build, tmp_path / "m")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "m" / "w.bin") == 0o644
    assert _mode(tmp_path / "m") == 0o755


def test_manifest_lists_written_files(tmp_path):
    out = tmp_path / "m"
    publish_dir(_build("1"), out)
    assert (out / MANIFEST).is_file()
    assert is_prefkit_dir(out)


def test_clean_stale_temps_only_old_prefkit_entries(tmp_path):
    (tmp_path / ".prefkit-tmp-old").mkdir()
    (tmp_path / ".prefkit-tmp-new.json").write_text("x")
    (tmp_path / "user.tmp").write_text("keep")
    past = time.time() - 3600
    os.utime(tmp_path / ".prefkit-tmp-old", (past, past))
    removed = clean_stale_temps(tmp_path)
    assert removed == [".prefkit-tmp-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".prefkit-tmp-new.json", "user.tmp"]


def test_publish_files_all_or_nothing_and_leaves_other_files(tmp_path):
    from prefkit.core.atomic import publish_files

    out = tmp_path / "board"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    (out / "a.json").write_text("old")

    def broken(tmp):
        (tmp / "a.json").write_text("new")
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError):
        publish_files(broken, out)
    assert (out / "a.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]

    def build(tmp):
        (tmp / "a.json").write_text("new")
        (tmp / "b.csv").write_text("x")

    written = publish_files(build, out)
    assert [p.name for p in written] == ["a.json", "b.csv"]
    assert (out / "a.json").read_text() == "new" and (out / "notes.md").read_text() == "mine"
    assert publish_files(build, tmp_path / "new")[0].parent == tmp_path / "new"
