"""glyph train through the real entry point: configs, Ctrl-C, export -> glyph ask, two processes."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, glyph_env, popen_glyph, run_glyph
from glm4v_fixture import build_glm4v_dir
from glyph_cli.train.runconfig import load_run_config, shipped_configs
from train_kit import PROSE, make_set, metrics, rendered

ENV = glyph_env(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=f"{REPO}:{REPO / 'tests'}")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_glm4v_dir(tmp_path_factory.mktemp("tiny-glm"))


@pytest.fixture(scope="module")
def ocr_set(tmp_path_factory):
    pairs = rendered([(f"d{i}", f"{w}. {PROSE}") for i, w in enumerate(["Fox", "Owl"])])
    return make_set(tmp_path_factory.mktemp("sets") / "ocr", pairs, tasks=("ocr",))


def write_config(path, model_dir, data, out, **training):
    cfg = {"model": str(model_dir), "data": str(data), "output_dir": str(out), "device": "cpu",
           "training": {"gradient_accumulation_steps": 1, "per_device_train_batch_size": 1, "learning_rate": 0.001,
                        "save_steps": 1000, **training}}
    path.write_text(json.dumps(cfg))
    return path


def test_shipped_configs_are_valid():
    from accelerate.commands.config.config_args import ClusterConfig

    files = shipped_configs()
    for stage in ("pretrain", "sft", "grpo"):
        cfg = load_run_config(stage, files[f"{stage}.yaml"])
        assert cfg["stage"] == stage
    names = [n for n in files if n.startswith("accelerate_")]
    assert {"accelerate_single_gpu.yaml", "accelerate_multi_gpu.yaml", "accelerate_deepspeed_zero2.yaml",
            "accelerate_deepspeed_zero3.yaml", "accelerate_fsdp.yaml", "accelerate_cpu_gloo.yaml"} <= set(names)
    for name in names:
        ClusterConfig.from_yaml_file(files[name])  # raises on an unknown key or a bad value


def test_config_errors_exit_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m\ndata: d\noutput_dir: o\ntraining: {learnign_rate: 1}\n")
    proc = run_glyph("train", "sft", str(bad), env=ENV)
    assert proc.returncode == 2 and b"learnign_rate" in proc.stderr and proc.stdout == b""
    proc = run_glyph("train", "sft", str(bad), "--set", "nope=1", env=ENV)
    assert proc.returncode == 2
    if importlib.util.find_spec("vllm") is None:
        good = tmp_path / "grpo.yaml"
        good.write_text("model: m\ndata: d\noutput_dir: o\n")
        proc = run_glyph("train", "grpo", str(good), "--use-vllm", env=ENV)
        assert proc.returncode == 2 and b"vllm is not installed" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_a_kill_saves_a_checkpoint_and_exits_130(model_dir, ocr_set, tmp_path, sig):
    cfg = write_config(tmp_path / "run.json", model_dir, ocr_set, tmp_path / "run", max_steps=100000,
                       lr_scheduler_type="constant")
    proc = popen_glyph("train", "pretrain", str(cfg), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (tmp_path / "run" / "metrics.jsonl").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode() if proc.poll() else ""
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err.decode()
    assert out == b""
    ckpts = list((tmp_path / "run").glob("checkpoint-*"))
    assert len(ckpts) == 1 and (ckpts[0] / "glyph_train_config.json").is_file()
    step = int(ckpts[0].name.split("-")[1])
    assert 1 <= step < 100000 and f"interrupted ({sig.name})".encode() in err


@pytest.mark.slow
def test_lora_export_loads_and_answers_through_glyph_ask(model_dir, ocr_set, tmp_path):
    cfg = write_config(tmp_path / "run.json", model_dir, ocr_set, tmp_path / "run", max_steps=2)
    run_glyph("train", "sft", str(cfg), "--set", "finetune=lora", check=True, env=ENV)
    assert (tmp_path / "run" / "final" / "adapter_config.json").is_file()
    run_glyph("train", "export", str(tmp_path / "run"), "-d", str(tmp_path / "model"), check=True, env=ENV)
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"config.json", "model.safetensors", "chat_template.jinja", "generation_config.json",
            "preprocessor_config.json", "tokenizer.json"} <= names
    assert "adapter_config.json" not in names
    # the release generation config (its end tokens) is back, not the trainer's rewrite
    assert (tmp_path / "model" / "generation_config.json").read_text() == (model_dir / "generation_config.json").read_text()
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": PROSE}) + "\n")
    proc = run_glyph("ask", str(docs), "-p", "glyph", "--set", "dpi=30", "-q", "What does it say?",
                     "--backend", "transformers", "-m", str(tmp_path / "model"), "--device", "cpu",
                     "--max-new-tokens", "4", env=ENV)
    assert proc.returncode == 0, proc.stderr.decode()
    answer = json.loads(proc.stdout)
    assert answer["id"] == "a:0" and answer["completion_tokens"] >= 1


@pytest.mark.slow
def test_two_processes_through_accelerate_launch_train_the_same_model(model_dir, ocr_set, tmp_path):
    cfg = write_config(tmp_path / "run.json", model_dir, ocr_set, tmp_path / "run", max_steps=2)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                str(shipped_configs()["accelerate_cpu_gloo.yaml"]), "--main_process_port", "29531"]
    proc = subprocess.run([*launcher, "-m", "glyph_cli", "train", "pretrain", str(cfg), "--set", "weights_digest=true"],
                          env=ENV, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    ranks = [json.loads(p.read_text()) for p in sorted((tmp_path / "run" / "ranks").glob("rank-*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {2}
    assert ranks[0]["step"] == ranks[1]["step"] == 2
    assert ranks[0]["sha256"] == ranks[1]["sha256"]
    from safetensors.torch import load_file

    base = load_file(model_dir / "model.safetensors")
    trained = load_file(tmp_path / "run" / "final" / "model.safetensors")
    assert any(not base[k].equal(trained[k]) for k in base if k in trained)  # it did train
    assert len([m for m in metrics(tmp_path / "run") if "loss" in m]) == 2  # one process logs


def test_paths_in_a_config_file_are_relative_to_it_and_set_overrides(tmp_path):
    (tmp_path / "cfgs").mkdir()
    f = tmp_path / "cfgs" / "sft.yaml"
    f.write_text("stage: sft\nmodel: ../m\ndata: d\noutput_dir: runs/x\ntraining: {max_steps: 7}\n")
    cfg = load_run_config("sft", f, ["training.max_steps=9", "data=/abs/d", "lora.r=4"])
    assert cfg["model"] == str(tmp_path / "cfgs" / ".." / "m") and cfg["output_dir"] == str(tmp_path / "cfgs" / "runs/x")
    assert cfg["data"] == "/abs/d" and cfg["training"]["max_steps"] == 9 and cfg["lora"]["r"] == 4
    assert cfg["training"]["learning_rate"] == 5e-6 and cfg["training"]["min_lr"] == 2e-6  # Glyph's SFT recipe
    with pytest.raises(Exception, match="a sft config"):
        load_run_config("grpo", f)
