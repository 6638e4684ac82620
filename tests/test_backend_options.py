"""One set of backend options (glyph_cli/commands/options.py) and one registry
(glyph_cli/models/registry.py) serve ask, bench accuracy and bench speed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, glyph_env, run_glyph
from glyph_cli.errors import UsageError
from glyph_cli.models.registry import BackendOptions, build

SHARED = ("--backend", "--model", "--base-url", "--api-key-env", "--max-images", "--timeout", "--retries",
          "--backoff", "--batch-size", "--device", "--dtype", "--attn", "--trust-remote-code")


@pytest.mark.parametrize("command", [("ask",), ("bench", "accuracy"), ("bench", "speed")])
def test_every_model_command_takes_the_shared_backend_options(command):
    text = run_glyph(*command, "--help", check=True).stdout.decode()
    missing = [flag for flag in SHARED if flag not in text]
    assert missing == []
    assert "[transformers|openai]" in text and "[auto|cpu|cuda]" in text  # choices listed from the enums


def test_registry_builds_an_openai_backend_without_a_server(monkeypatch):
    monkeypatch.setenv("GLYPH_TEST_KEY", "k")
    engine = build(BackendOptions(base_url="http://127.0.0.1:9/v1", model="m", timeout=3.0, retries=0,
                                  api_key_env="GLYPH_TEST_KEY"))
    try:
        assert (engine.name, engine.timeout, engine.retries, engine.api_key_env) == ("openai", 3.0, 0, "GLYPH_TEST_KEY")
    finally:
        engine.close()


def test_registry_errors_name_no_flag():
    with pytest.raises(UsageError) as info:
        BackendOptions(backend="llama").check()
    assert "--" not in str(info.value)
    with pytest.raises(UsageError, match="needs a local model directory"):
        BackendOptions().check()


def test_a_usage_error_does_not_import_torch():
    code = ("import sys\nfrom glyph_cli.app import main\n"
            "try:\n    main(['ask', '-m', '/nonexistent', '-q', 'x'])\nexcept SystemExit as e:\n    code = e.code\n"
            "print(code, 'torch' in sys.modules, 'transformers' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, env=glyph_env(), timeout=120)
    assert proc.stdout.decode().split() == ["2", "False", "False"], proc.stderr.decode()
    assert b"/nonexistent: no such directory" in proc.stderr


def test_bench_accuracy_checks_the_model_directory_first(tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text("")
    proc = run_glyph("bench", "accuracy", str(tasks), "-r", str(tmp_path / "r.jsonl"), "-m", str(tmp_path / "none"))
    assert proc.returncode == 2
    assert b"no such directory" in proc.stderr


def test_bench_speed_checks_the_backend_before_rendering():
    proc = run_glyph("bench", "speed", "--backend", "transformers", "-m", "/nonexistent/model")
    assert proc.returncode == 2
    assert b"/nonexistent/model: no such directory" in proc.stderr
