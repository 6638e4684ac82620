"""Shared fixtures. CLI tests run the real entry point in a subprocess (`python -m glyph_cli`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def glyph_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["GLYPH_HOME"] = env.get("GLYPH_TEST_HOME", str(REPO / ".pytest_cache" / "glyph-home"))
    env.pop("CI", None)
    env.update(extra)
    return env


def run_glyph(*args: str, input: bytes | None = None, check: bool = False, timeout: float = 300,
              cwd: str | Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `glyph ARGS` as a user would; returns the CompletedProcess with bytes stdout/stderr."""
    proc = subprocess.run([sys.executable, "-m", "glyph_cli", *args], input=input, capture_output=True,
                          timeout=timeout, cwd=cwd, env=env or glyph_env())
    if check and proc.returncode != 0:
        raise AssertionError(f"glyph {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode()}")
    return proc


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: tests that press Ctrl-C must not depend on how they were launched.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_glyph(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """Start `glyph ARGS` in the background, able to receive Ctrl-C (SIGINT) like a terminal job."""
    return subprocess.Popen([sys.executable, "-m", "glyph_cli", *args], env=env or glyph_env(),
                            preexec_fn=_default_sigint, **kwargs)


@pytest.fixture
def glyph():
    return run_glyph


@pytest.fixture
def server():
    """A local OpenAI-compatible server (tests/fake_openai_server.py) that misbehaves on demand."""
    from fake_openai_server import FakeServer

    srv = FakeServer().start()
    yield srv
    srv.stop()
