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


def test_token_file_any_listed_token_and_clean_shutdown(model_dirs, serve_env, tmp_path):
    """The fixed contract: ``--token-file`` (one token per line), /health open, SIGTERM exits."""
    import signal
    import time

    import httpx
    from serve_models import free_port

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("first-token\n\n  second-token  \n", encoding="utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefkit", "serve", str(model_dirs["bt"]), "--port",
             str(port), "--token-file", str(tokens)], stdout=sink, stderr=subprocess.STDOUT,
            env=serve_env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert httpx.get(f"{url}/health").json()["status"] == "ok"  # open without a token
        body = {"items": ["item_00"]}
        assert httpx.post(f"{url}/v1/score", json=body).status_code == 401
        for token in ("first-token", "second-token"):
            reply = httpx.post(f"{url}/v1/score", json=body,
                               headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 200 and len(reply.json()["rewards"]) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert "Application shutdown complete" in log.read_text(errors="replace")
    assert "first-token" not in log.read_text(errors="replace")
