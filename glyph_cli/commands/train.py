"""`glyph train`: training data from pages, the three training stages, export."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt

train = typer.Typer(help="Train a vision-language model on rendered pages: data, pretrain, sft, grpo, export.",
                    no_args_is_help=True, rich_markup_mode=None)


@train.command("data")
def data(
    inputs: Optional[List[str]] = typer.Argument(None, help="Page streams or bundles ('-' or none: stdin)."),
    out_dir: Optional[Path] = opt.out_dir("The dataset directory to write (required)."),
    out_old: Optional[Path] = opt.deprecated("--output", "-o"),
    task: Optional[List[str]] = typer.Option(None, "--task", "-t", help="ocr, interleave, generate or instruct "
                                             "(repeatable; default: ocr)."),
    questions: Optional[str] = typer.Option(None, "--questions", help='instruct: JSONL of {"id", "doc", "question", '
                                            '"answer", "thinking"?}.'),
    ocr_ratio: float = typer.Option(0.0, "--ocr-ratio", help="instruct: share of OCR examples mixed in, in [0, 1)."),
    style_sampling: bool = typer.Option(False, "--style-sampling", help="Re-render each document in a style drawn "
                                        "from Glyph's search space (seeded)."),
    style_max_dpi: int = typer.Option(150, "--style-max-dpi", help="--style-sampling: highest dpi drawn."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice (styles, runs, the OCR mix)."),
    max_target_chars: int = typer.Option(4000, "--max-target-chars", help="interleave/generate: target length cap."),
    template: Optional[Path] = typer.Option(None, "--template", help="Prompt template (as glyph ask --template)."),
    shard_size: int = typer.Option(256, "--shard-size", help="Examples per Parquet shard."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="--style-sampling: text tokenizer for doc records."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset directory."),
    on_error: opt.OnError = opt.on_error("fail or skip bad documents and questions."),
) -> int:
    """Build a training set from pages: Parquet shards with page PNGs, a manifest, a completion marker.

      glyph render docs.jsonl | glyph train data -d ocr-set -t ocr -t interleave --style-sampling
    """
    from glyph_cli.train.pipeline import make_dataset

    output = _required_dir(opt.renamed(out_dir, out_old, "-d/--out-dir", "-o/--output"))
    policy = opt.policy(on_error)
    make_dataset(inputs or [], output, tasks=tuple(task or ["ocr"]), questions=questions, ocr_ratio=ocr_ratio,
                 style_sampling=style_sampling, style_max_dpi=style_max_dpi, seed=seed,
                 max_target_chars=max_target_chars, template=template, shard_size=shard_size, tokenizer=tokenizer,
                 overwrite=overwrite, policy=policy)
    return 1 if policy.failed else 0


def _required_dir(path: Optional[Path]) -> Path:
    if path is None:
        from glyph_cli.errors import UsageError

        raise UsageError("give the directory to write with -d/--out-dir DIR")
    return path


def _stage(stage: str, config: Optional[Path], set_: Optional[List[str]], resume: bool, unfreeze_vision: bool,
           extra: tuple[str, ...] = ()) -> int:
    from glyph_cli.train.runconfig import load_run_config
    from glyph_cli.train.stages import INTERRUPTED, run_stage

    flags = [*(["freeze_vision=false"] if unfreeze_vision else []), *extra]
    cfg = load_run_config(stage, config, [*(set_ or []), *flags])
    summary = run_stage(cfg, resume=resume)
    if summary["main_process"]:
        log.info(f"{stage}: {summary['step']} step(s), train loss {summary['train_loss']:.4g}, "
                 f"output in {cfg['output_dir']}")
    return INTERRUPTED if summary["interrupted"] else 0


CONFIG_HELP = "Run config (YAML or JSON) with every hyperparameter; see docs/TRAIN.md."
SET_HELP = "KEY=VALUE over the config (dotted keys, e.g. training.max_steps=10; repeatable)."
RESUME_HELP = "Continue from the last checkpoint in output_dir (same step, same data order)."
UNFREEZE_HELP = "Train the vision tower too (frozen by default; the config key freeze_vision)."
# The stage commands' shared parameters, declared once (typer needs each command to list them).
STAGE_CONFIG: Optional[Path] = typer.Argument(None, help=CONFIG_HELP)
STAGE_SET: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP)
STAGE_RESUME: bool = typer.Option(False, "--resume", help=RESUME_HELP)
STAGE_UNFREEZE: bool = typer.Option(False, "--unfreeze-vision", help=UNFREEZE_HELP)


@train.command("pretrain")
def pretrain(config: Optional[Path] = STAGE_CONFIG, set_: Optional[List[str]] = STAGE_SET,
             resume: bool = STAGE_RESUME, unfreeze_vision: bool = STAGE_UNFREEZE) -> int:
    """Continual pre-training (OCR, interleaved LM, generation) on a glyph train data set."""
    return _stage("pretrain", config, set_, resume, unfreeze_vision)


@train.command("sft")
def sft(config: Optional[Path] = STAGE_CONFIG, set_: Optional[List[str]] = STAGE_SET,
        resume: bool = STAGE_RESUME, unfreeze_vision: bool = STAGE_UNFREEZE) -> int:
    """Supervised fine-tuning on instruct data (with the OCR mix); the prompt is masked out."""
    return _stage("sft", config, set_, resume, unfreeze_vision)


@train.command("grpo")
def grpo(config: Optional[Path] = STAGE_CONFIG, set_: Optional[List[str]] = STAGE_SET,
         resume: bool = STAGE_RESUME, unfreeze_vision: bool = STAGE_UNFREEZE,
         use_vllm: bool = typer.Option(False, "--use-vllm", help="Generate the groups with vLLM (installed "
                                       "separately); default: transformers.")) -> int:
    """GRPO with trl: answer, format and OCR rewards; all-equal groups dropped from the loss."""
    return _stage("grpo", config, set_, resume, unfreeze_vision, ("grpo.use_vllm=true",) if use_vllm else ())


@train.command("export")
def export(run: Path = typer.Argument(..., help="A run directory (its final/ or last checkpoint) or a checkpoint."),
           out_dir: Optional[Path] = opt.out_dir("The model directory to write (required)."),
           out_old: Optional[Path] = opt.deprecated("--output", "-o"),
           base: Optional[str] = typer.Option(None, "--base", help="Base model directory (default: the run's model)."),
           dtype: opt.Dtype = typer.Option(opt.Dtype.auto, "--dtype", help="Weights' dtype (auto: the run's)."),
           overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing directory.")) -> int:
    """Merge a LoRA adapter, restore the release chat template and generation config, write a model dir."""
    from glyph_cli.train.export import export as export_model

    output = _required_dir(opt.renamed(out_dir, out_old, "-d/--out-dir", "-o/--output"))
    out = export_model(run, output, base=base, dtype=dtype.value, overwrite=overwrite)
    log.info(f"exported {run} to {out}")
    return 0
