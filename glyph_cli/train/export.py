"""`glyph train export`: a trained run -> a model directory `glyph ask` and vLLM load as is.

A LoRA adapter is merged into its base model; full weights are loaded as they are. The release
files that training does not own come back from the base model directory: the chat template,
`generation_config.json` (its end tokens), the processor and tokenizer configs. The result is
written to OUT.partial and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from glyph_cli.errors import UsageError
from glyph_cli.train import quiet_hub

# Files restored from the base model directory: what the model is prompted and stopped with.
RELEASE_FILES = ("chat_template.jinja", "chat_template.json", "generation_config.json", "preprocessor_config.json",
                 "processor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")


def resolve_run(path: str | Path) -> tuple[Path, str]:
    """(weights folder, base model dir) of a run directory, its `final/` or one checkpoint."""
    from glyph_cli.train.runconfig import RESOLVED_NAME
    from glyph_cli.train.stages import last_checkpoint

    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"{p}: no such directory")
    if (p / "final").is_dir():
        p = p / "final"
    elif not (p / "adapter_config.json").is_file() and not (p / "config.json").is_file():
        ckpt = last_checkpoint(p)
        if ckpt is None:
            raise UsageError(f"{p}: neither a run directory nor a checkpoint")
        p = ckpt
    for folder in (p, p.parent, p.parent.parent):
        cfg = folder / RESOLVED_NAME
        if cfg.is_file():
            return p, json.loads(cfg.read_text())["model"]
    raise UsageError(f"{p}: no {RESOLVED_NAME} beside it", "export a run made by glyph train")


def export(run: str | Path, out: str | Path, base: str | None = None, dtype: str = "auto",
           overwrite: bool = False) -> Path:
    import torch
    from transformers import AutoModelForImageTextToText

    quiet_hub()
    from glyph_cli import log

    if not log.progress_enabled():
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    weights, recorded_base = resolve_run(run)
    base = base or recorded_base
    out = Path(out)
    if out.exists() and not overwrite:
        raise UsageError(f"{out}: already exists", "choose another --output or pass --overwrite")
    torch_dtype = None if dtype == "auto" else getattr(torch, dtype)
    if (weights / "adapter_config.json").is_file():
        from peft import PeftModel

        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch_dtype or "auto", local_files_only=True)
        model = PeftModel.from_pretrained(model, weights).merge_and_unload()
    else:
        model = AutoModelForImageTextToText.from_pretrained(weights, dtype=torch_dtype or "auto", local_files_only=True)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    for name in RELEASE_FILES:
        if (Path(base) / name).is_file():
            shutil.copy2(Path(base) / name, partial / name)
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    return out
