"""``prefkit serve`` refuses bad set-ups with one ``error:`` line and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

MISSING_FASTAPI = (
    "import sys; sys.modules['fastapi'] = None; sys.argv = ['prefkit', 'serve', 'model/']; "
    "from prefkit.cli import main; main()"
)


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          **kw)


def test_missing_fastapi_is_one_install_line():
    out = run(["-c", MISSING_FASTAPI])
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: prefkit serve needs the optional package 'fastapi': install prefkit[serve] "
        "(pip install 'prefkit[serve]')"]


def test_refuses_public_address_without_token(tmp_path):
    out = run(["-m", "prefkit", "serve", str(tmp_path), "--host", "0.0.0.0"])
    assert out.returncode == 2
    assert out.stderr.startswith("error: refusing to listen on 0.0.0.0 without a token")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args,message", [
    (["--name", "novalue"], "expected NAME=DIR"),
    ([], "give at least one MODEL_DIR"),
    (["--api-key-env", "PREFKIT_SURELY_UNSET_VAR", "x/"], "PREFKIT_SURELY_UNSET_VAR is unset"),
    (["--max-batch", "0", "x/"], "max_batch must be at least 1"),
])
def test_bad_options_are_one_line(args, message):
    out = run(["-m", "prefkit", "serve", *args])
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_duplicate_names_and_missing_directory(model_dirs, tmp_path):
    bt = str(model_dirs["bt"])
    dup = run(["-m", "prefkit", "serve", bt, "--name", f"bt={model_dirs['dav']}"])
    assert dup.returncode == 2 and "two models are named 'bt'" in dup.stderr
    missing = run(["-m", "prefkit", "serve", str(tmp_path / "nothing-here")])
    assert missing.returncode == 2 and missing.stderr.startswith("error:")
    assert "Traceback" not in missing.stderr
