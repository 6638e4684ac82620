"""Run configs: one YAML or JSON file per run holds every hyperparameter.

`load_run_config(stage, path, sets)` starts from the stage's defaults (Glyph's recipe, GLYPH_NOTES),
lays the file over them, then each `KEY=VALUE` (dotted keys reach into sections; values parse as
YAML scalars), and validates: an unknown key is an error naming the file, never silently ignored.
The resolved config is written beside every checkpoint (`glyph_train_config.json`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from glyph_cli.errors import ConfigError

STAGES = ("pretrain", "sft", "grpo")
FINETUNE = ("full", "lora")
RESOLVED_NAME = "glyph_train_config.json"
PATH_KEYS = ("model", "data", "output_dir")

# The language model's attention and MLP projections in GLM-4.1V (and Qwen2-VL-style models);
# `down_proj` alone would also match the vision tower's MLP.
LM_LORA_TARGETS = r".*language_model\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_up_proj|down_proj|gate_proj|up_proj))"

_COMMON: dict[str, Any] = {
    "stage": None,
    "model": None,  # a local model directory (or, for grpo, the SFT output)
    "data": None,  # a training set made by glyph train data
    "output_dir": None,
    "seed": 0,
    "device": "auto",  # auto, cpu, cuda
    "dtype": "auto",  # auto: bfloat16 on a GPU that has it, float32 on CPU
    "attn": "auto",
    "max_length": None,  # tokens per example; a longer example is an error (truncation would cut image tokens)
    "finetune": "full",
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": LM_LORA_TARGETS},
    "freeze_vision": True,
    "gradient_checkpointing": False,
    "end_token": None,  # supervised after the target; None: the tokenizer's eos token
    "weights_digest": False,  # each process writes a hash of its final weights (checks replicas agree)
    "training": {
        "learning_rate": 5e-6, "lr_scheduler_type": "cosine", "min_lr": None, "warmup_steps": 0,  # a number of steps, or a fraction of max_steps below 1
        "max_steps": 1500, "num_train_epochs": 1.0, "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 32, "adam_beta1": 0.9, "adam_beta2": 0.95, "weight_decay": 0.0,
        "max_grad_norm": 1.0, "logging_steps": 1, "save_steps": 100, "save_total_limit": None,
        "dataloader_num_workers": 0,
    },
}

DEFAULTS: dict[str, dict[str, Any]] = {
    # Glyph: batch 170, lr 2e-6 cosine, ~4,000 steps.
    "pretrain": {"training": {"learning_rate": 2e-6, "max_steps": 4000, "gradient_accumulation_steps": 170}},
    # Glyph: 1.5K steps, batch 32, lr 5e-6 -> 2e-6, Adam 0.9/0.95.
    "sft": {"training": {"learning_rate": 5e-6, "min_lr": 2e-6, "lr_scheduler_type": "cosine_with_min_lr",
                         "max_steps": 1500, "gradient_accumulation_steps": 32}},
    # Glyph: 16 samples per group, clip 0.2 / 0.28, 500 iterations, lr 1e-6, KL to the SFT model.
    "grpo": {
        "training": {"learning_rate": 1e-6, "max_steps": 500, "gradient_accumulation_steps": 1,
                     "per_device_train_batch_size": 16, "lr_scheduler_type": "constant"},
        "grpo": {
            "num_generations": 16, "epsilon": 0.2, "epsilon_high": 0.28,
            "beta": 0.001,  # the paper gives no value for the KL weight
            "loss_type": "dapo", "max_completion_length": 1024, "temperature": 1.0, "top_p": 1.0,
            "drop_equal_groups": True, "use_vllm": False,
            "rewards": {"correctness": "exact", "format": 1.0, "answer": 1.0, "ocr": 1.0},
            "judge": {"base_url": None, "model": None, "api_key_env": "OPENAI_API_KEY"},
        },
    },
}
CORRECTNESS = ("exact", "contains", "f1", "judge")


def defaults(stage: str) -> dict[str, Any]:
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}", f"choose one of {', '.join(STAGES)}")
    return _merge(_merge(copy.deepcopy(_COMMON), copy.deepcopy(DEFAULTS[stage]), "defaults", allow_new=True),
                  {"stage": stage}, "defaults")


def _merge(base: dict, over: dict, origin: str, prefix: str = "", allow_new: bool = False) -> dict:
    for key, value in over.items():
        name = f"{prefix}{key}"
        if key not in base and not allow_new:
            raise ConfigError(f"{origin}: unknown key {name!r}",
                              f"known keys here: {', '.join(sorted(base))}")
        if isinstance(base.get(key), dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {name!r} must be a mapping")
            base[key] = _merge(base[key], value, origin, f"{name}.", allow_new)
        else:
            base[key] = value
    return base


def read_file(path: str | Path) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:  # yaml.YAMLError has no common base with ValueError
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: must hold a mapping of keys to values")
    return data


def parse_set(item: str) -> dict:
    import yaml

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
    value = yaml.safe_load(raw) if raw.strip() else None
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_run_config(stage: str, path: str | Path | None = None, sets: list[str] | None = None) -> dict:
    cfg = defaults(stage)
    if path is not None:
        data = read_file(path)
        file_stage = data.pop("stage", stage)
        if file_stage != stage:
            raise ConfigError(f"{path}: a {file_stage} config, given to glyph train {stage}")
        # Paths in a file are relative to the file, so a run config travels with its data;
        # paths given with --set are relative to where the command runs.
        here = Path(path).resolve().parent
        for key in PATH_KEYS:
            if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
                data[key] = str(here / data[key])
        cfg = _merge(cfg, data, str(path))
    for item in sets or []:
        cfg = _merge(cfg, parse_set(item), f"--set {item}")
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    for key in ("model", "data", "output_dir"):
        need(isinstance(cfg[key], str) and cfg[key], f"{key} is required (a path)")
    need(cfg["finetune"] in FINETUNE, f"finetune must be one of {', '.join(FINETUNE)}, not {cfg['finetune']!r}")
    need(cfg["device"] in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, not {cfg['device']!r}")
    need(cfg["max_length"] is None or (isinstance(cfg["max_length"], int) and cfg["max_length"] > 0),
         "max_length must be a positive integer or null")
    t = cfg["training"]
    for key in ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "logging_steps",
                "save_steps"):
        need(isinstance(t[key], int) and t[key] >= 1, f"training.{key} must be a positive integer")
    need(isinstance(t["learning_rate"], (int, float)) and t["learning_rate"] > 0, "training.learning_rate must be positive")
    lora = cfg["lora"]
    need(isinstance(lora.get("r"), int) and lora["r"] > 0, "lora.r must be a positive integer")
    if cfg["stage"] == "grpo":
        g = cfg["grpo"]
        need(isinstance(g["num_generations"], int) and g["num_generations"] >= 2,
             "grpo.num_generations must be at least 2 (a group needs two answers to compare)")
        need(g["rewards"]["correctness"] in CORRECTNESS,
             f"grpo.rewards.correctness must be one of {', '.join(CORRECTNESS)}")
        if g["rewards"]["correctness"] == "judge":
            need(bool(g["judge"]["base_url"]), "grpo.judge.base_url is needed for the judge reward")
        global_batch = t["per_device_train_batch_size"] * t["gradient_accumulation_steps"]
        need(global_batch % g["num_generations"] == 0,
             f"per_device_train_batch_size x gradient_accumulation_steps ({global_batch}) must be a multiple "
             f"of grpo.num_generations ({g['num_generations']})")


def shipped_configs() -> dict[str, Path]:
    """The run and accelerate configs shipped as package data, by file name."""
    folder = Path(__file__).resolve().parent / "configs"
    return {p.name: p for p in sorted(folder.glob("*.yaml"))}
