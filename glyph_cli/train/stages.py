"""The three stages on real training libraries: pretrain and sft on transformers' Trainer (the
collator masks the prompt), grpo on trl's GRPOTrainer.

A run is one output directory: the resolved config (`glyph_train_config.json`, also written into
every checkpoint), `metrics.jsonl` (every log line; tensorboard events too when it is installed),
`checkpoint-N/` folders, and the final model (weights, or the LoRA adapter, plus the processor).
`resume=True` continues from the last checkpoint with the same step, optimizer, scheduler, RNG and
data order (Trainer's own resume), and refuses a config that changed what is trained. Ctrl-C stops
at the end of the step in hand, saves a checkpoint and makes the command exit 130.
Under `accelerate launch` / `torchrun` the same code runs one process per device.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from pathlib import Path

from glyph_cli import log
from glyph_cli.errors import ConfigError, UsageError
from glyph_cli.train import quiet_hub
from glyph_cli.train.runconfig import RESOLVED_NAME

VISION = re.compile(r"(^|\.)(visual|vision_tower|vision_model)\.")
# Keys that may change between a run and its resume: how long, how often to log and save.
RESUMABLE_CHANGES = {"training.max_steps", "training.save_steps", "training.logging_steps",
                     "training.save_total_limit", "output_dir", "device", "training.dataloader_num_workers"}
INTERRUPTED = 130


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def last_checkpoint(out: Path) -> Path | None:
    found = [p for p in out.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def check_resume(cfg: dict, out: Path, resume: bool) -> Path | None:
    ckpt = last_checkpoint(out) if out.is_dir() else None
    if not resume:
        if ckpt is not None:
            raise UsageError(f"{out}: already holds {ckpt.name}",
                             "pass --resume to continue that run, or choose another output_dir")
        return None
    if ckpt is None:
        raise UsageError(f"--resume: no checkpoint in {out}")
    saved_file = ckpt / RESOLVED_NAME
    if saved_file.is_file():
        saved, now = _flat(json.loads(saved_file.read_text())), _flat(cfg)
        changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            raise UsageError(f"--resume: {ckpt} was trained with different settings: {', '.join(changed)}",
                             "resume with the config it was saved with, or start a new output_dir")
    return ckpt


def _callback_class():
    from transformers import TrainerCallback

    class GlyphCallback(TrainerCallback):
        """Metrics as JSONL and lines on stderr, the resolved config in every checkpoint, Ctrl-C."""

        def __init__(self, cfg: dict, out: Path):
            self.cfg = cfg
            self.out = out
            self.interrupted = False
            self.bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = log.progress(total=state.max_steps, desc=self.cfg["stage"], unit="step")
                self.bar.update(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)
            if self.interrupted:
                control.should_save = True
                control.should_training_stop = True

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            rec = {"step": state.global_step, "epoch": state.epoch, **logs}
            with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, sort_keys=True) + "\n")
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()
                              if k in ("loss", "learning_rate", "reward", "grad_norm", "dropped_groups", "train_loss"))
            log.info(f"step {state.global_step}/{state.max_steps}: {shown}")

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                ckpt = self.out / f"checkpoint-{state.global_step}"
                if ckpt.is_dir():
                    write_resolved(self.cfg, ckpt)

    return GlyphCallback


def write_resolved(cfg: dict, folder: Path) -> None:
    tmp = folder / f".{RESOLVED_NAME}.tmp"
    tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / RESOLVED_NAME)


def _dtype(cfg: dict):
    from glyph_cli.models.transformers_backend import resolve_device, resolve_dtype

    device = resolve_device(cfg["device"])
    return device, resolve_dtype(cfg["dtype"], device)


def load_for_training(cfg: dict):
    """The processor and the model, vision tower frozen unless asked, LoRA on the language model."""
    from transformers import AutoModelForImageTextToText

    from glyph_cli.models.transformers_backend import check_model_dir, load_processor, resolve_attention

    path = check_model_dir(cfg["model"])
    processor = load_processor(path)
    device, dtype = _dtype(cfg)
    kernel = resolve_attention(cfg["attn"])
    # No device_map: the trainer places the model (one copy per process under accelerate).
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype, local_files_only=True,
                                                        **({"attn_implementation": kernel} if kernel else {}))
    if cfg["freeze_vision"]:
        for name, p in model.named_parameters():
            if VISION.search(name):
                p.requires_grad_(False)
    if cfg["finetune"] == "lora":
        from peft import LoraConfig, get_peft_model

        lora = cfg["lora"]
        model = get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                 target_modules=lora["target_modules"], task_type="CAUSAL_LM"))
        if not any(p.requires_grad for p in model.parameters()):
            raise ConfigError(f"lora.target_modules {lora['target_modules']!r} matches no module of {path}")
    return processor, model, device, dtype


def _training_kwargs(cfg: dict, out: Path, device: str, dtype) -> dict:
    import importlib.util

    import torch

    t = cfg["training"]
    kwargs = dict(
        output_dir=str(out), max_steps=t["max_steps"], num_train_epochs=t["num_train_epochs"],
        per_device_train_batch_size=t["per_device_train_batch_size"],
        gradient_accumulation_steps=t["gradient_accumulation_steps"], learning_rate=t["learning_rate"],
        lr_scheduler_type=t["lr_scheduler_type"], warmup_steps=t["warmup_steps"], adam_beta1=t["adam_beta1"],
        adam_beta2=t["adam_beta2"], weight_decay=t["weight_decay"], max_grad_norm=t["max_grad_norm"],
        logging_steps=t["logging_steps"], save_steps=t["save_steps"], save_total_limit=t["save_total_limit"],
        dataloader_num_workers=t["dataloader_num_workers"], seed=cfg["seed"], data_seed=cfg["seed"],
        remove_unused_columns=False, activation_checkpointing=cfg["gradient_checkpointing"],
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16, use_cpu=device == "cpu",
        disable_tqdm=not log.progress_enabled(), save_only_model=False,
        report_to=["tensorboard"] if importlib.util.find_spec("tensorboard") else [],
    )
    if t["min_lr"] is not None:
        kwargs["lr_scheduler_kwargs"] = {"min_lr": t["min_lr"]}
    return kwargs


def weights_digest(model) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def _run(cfg: dict, trainer, out: Path, ckpt: Path | None) -> dict:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    # Both print log lines to stdout, which carries data only; GlyphCallback reports on stderr.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    callback = next(c for c in trainer.callback_handler.callbacks if type(c).__name__ == "GlyphCallback")

    def on_signal(signum, frame):
        if callback.interrupted:  # a second Ctrl-C (or kill): stop now
            raise KeyboardInterrupt
        callback.interrupted = True
        log.warn(f"interrupted ({signal.Signals(signum).name}): saving a checkpoint at the end of this step "
                 "(Ctrl-C again to stop at once)")

    # SIGTERM as Ctrl-C: a scheduler (Slurm, Kubernetes) sends it and waits a grace period before SIGKILL
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    state = trainer.state
    summary = {"stage": cfg["stage"], "step": state.global_step, "max_steps": state.max_steps,
               "train_loss": result.training_loss, "interrupted": callback.interrupted,
               "seconds": result.metrics.get("train_runtime"),
               "steps_per_second": result.metrics.get("train_steps_per_second"),
               "samples_per_second": result.metrics.get("train_samples_per_second"),
               "main_process": trainer.is_world_process_zero()}
    if cfg["weights_digest"]:
        rank = trainer.args.process_index
        (out / "ranks").mkdir(exist_ok=True)
        body = {"rank": rank, "world_size": trainer.args.world_size, "step": state.global_step,
                "sha256": weights_digest(trainer.model)}
        (out / "ranks" / f"rank-{rank}.json").write_text(json.dumps(body) + "\n")
    if not callback.interrupted:
        trainer.save_model(str(out / "final"))
        if trainer.is_world_process_zero():
            write_resolved(cfg, out / "final")
    if trainer.is_world_process_zero():
        write_resolved({**cfg, "_summary": summary}, out)
    return summary


def _prepare(cfg: dict, resume: bool) -> tuple[Path, Path | None]:
    quiet_hub()
    if not log.progress_enabled():  # library bars follow glyph's --progress rule
        import datasets
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        datasets.disable_progress_bars()
    out = Path(cfg["output_dir"])
    ckpt = check_resume(cfg, out, resume)
    out.mkdir(parents=True, exist_ok=True)
    write_resolved(cfg, out)
    return out, ckpt


def train_lm(cfg: dict, resume: bool = False) -> dict:
    """pretrain or sft: next-token loss on the target alone."""
    from transformers import Trainer, TrainingArguments

    from glyph_cli.train.collate import Collator
    from glyph_cli.train.writer import load_dataset

    out, ckpt = _prepare(cfg, resume)
    processor, model, device, dtype = load_for_training(cfg)
    dataset = load_dataset(cfg["data"], cache_dir=out / ".cache")
    args = TrainingArguments(**_training_kwargs(cfg, out, device, dtype))
    trainer = Trainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                      data_collator=Collator(processor, cfg["end_token"], cfg["max_length"]),
                      callbacks=[_callback_class()(cfg, out)])
    return _run(cfg, trainer, out, ckpt)


def grpo_rows(dataset):
    """Training-set rows as GRPO prompts: the `glyph ask` user turn, the images, the references."""
    from glyph_cli.train.collate import chat_prompt, row_parts

    def convert(row):
        meta = json.loads(row["meta"] or "{}")
        return {"prompt": chat_prompt(row_parts(row)), "answers": meta.get("answers") or [row["target"]],
                "question": meta.get("question") or ""}

    return dataset.map(convert)


def chat_template_tokens_only(processor):
    """The processor, with `add_special_tokens=False` as its default.

    trl calls the processor on chat-templated text without that flag when it scores completions;
    a GLM tokenizer then puts a second [gMASK]<sop> before the template's, and the ids no longer
    line up with the prompt it generated from.
    """
    base = type(processor)

    class TemplateTokensOnly(base):
        def __call__(self, *args, add_special_tokens: bool = False, **kwargs):
            return super().__call__(*args, add_special_tokens=add_special_tokens, **kwargs)

    TemplateTokensOnly.__name__ = TemplateTokensOnly.__qualname__ = base.__name__
    processor.__class__ = TemplateTokensOnly
    return processor


def _drop_trainer_class():
    from trl import GRPOTrainer

    class DropEqualGroupsGRPOTrainer(GRPOTrainer):
        """GRPO that drops groups whose rewards are all equal, as Glyph does.

        trl gives such groups zero advantage but keeps their tokens in the loss normaliser and the
        KL term. Here their completions leave the loss mask (and so the KL and the token count
        `num_items_in_batch`) after trl has scored them. `dropped_groups` is logged per generation.
        """

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._glyph_rewards = rewards  # every process's rows, as trl gathers them
            return rewards

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            mode = "train" if self.model.training else "eval"
            g = self.num_generations if mode == "train" else self.num_generations_eval
            rewards = (self._glyph_rewards * self.reward_weights.to(self._glyph_rewards.device)).nansum(dim=1)
            groups = rewards.view(-1, g)
            equal = (groups.max(dim=1).values - groups.min(dim=1).values).abs() < 1e-6
            keep = (~equal).repeat_interleave(g)
            local = slice(self.accelerator.process_index * len(inputs), (self.accelerator.process_index + 1) * len(inputs))
            keep = keep[local].to(output["completion_mask"].device)
            output["completion_mask"] = output["completion_mask"] * keep.unsqueeze(1).to(output["completion_mask"].dtype)
            mask = output["completion_mask"] if "tool_mask" not in output else output["completion_mask"] * output["tool_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
            self._metrics[mode]["dropped_groups"].append(float(equal.sum().item()))
            self._metrics[mode]["groups"].append(float(equal.numel()))
            return output

    return DropEqualGroupsGRPOTrainer


def train_grpo(cfg: dict, resume: bool = False) -> dict:
    from trl import GRPOConfig, GRPOTrainer

    from glyph_cli.train.rewards import reward_functions
    from glyph_cli.train.writer import load_dataset

    g = cfg["grpo"]
    if g["use_vllm"]:
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("grpo.use_vllm: vllm is not installed", "pip install vllm, or generate with transformers")
    out, ckpt = _prepare(cfg, resume)
    processor, model, device, dtype = load_for_training(cfg)
    dataset = grpo_rows(load_dataset(cfg["data"], cache_dir=out / ".cache"))
    funcs, weights = reward_functions(g["rewards"], g["judge"])
    if not funcs:
        raise ConfigError("grpo.rewards: every weight is 0", "give the answer, format or ocr reward a weight")
    args = GRPOConfig(
        **_training_kwargs(cfg, out, device, dtype), num_generations=g["num_generations"], epsilon=g["epsilon"],
        epsilon_high=g["epsilon_high"], beta=g["beta"], loss_type=g["loss_type"],
        max_completion_length=g["max_completion_length"], temperature=g["temperature"], top_p=g["top_p"],
        use_vllm=g["use_vllm"], reward_weights=weights,
        # the chat template writes [gMASK]<sop>; a GLM tokenizer told to add its own doubles them
        chat_template_kwargs={"processor_kwargs": {"add_special_tokens": False}},
        model_init_kwargs={"dtype": dtype, "local_files_only": True},
    )
    # Prompts of unequal length are padded on the left (right padding breaks mrope position ids).
    processor.tokenizer.padding_side = "left"
    processor = chat_template_tokens_only(processor)
    cls = _drop_trainer_class() if g["drop_equal_groups"] else GRPOTrainer
    trainer = cls(model=model, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processor,
                  callbacks=[_callback_class()(cfg, out)])
    return _run(cfg, trainer, out, ckpt)


def run_stage(cfg: dict, resume: bool = False) -> dict:
    return train_grpo(cfg, resume) if cfg["stage"] == "grpo" else train_lm(cfg, resume)
