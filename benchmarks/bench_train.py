"""glyph train throughput.

CPU (default): the tiny random GLM-4.1V of the tests through each stage, in process: `glyph train
data` examples/s, then pretrain (OCR), sft (instruct + OCR mix) and grpo steps/s and examples/s as
transformers' Trainer / trl's GRPOTrainer report them (after one warm-up run of each stage).

GPU (`--gpu`): SFT tokens/s of a mid-size random-weight GLM-4.1V (GLM-4.1V-9B's widths and full
vision tower, `--text-layers` language layers) on the same context given as pages and as text,
through glyph's own collator (the prompt `glyph ask` sends, labels on the answer). The paper
reports ~2x SFT throughput with pages at long context. Contexts come prepared by
`benchmarks/bench_ask_gpu.py --prepare DIR` (the GPU machines have no Pango), read with its loader.
tokens/s counts the tokens the model is fed (image placeholders included) per second of
optimizer step; the text-equivalent rate (context text tokens per second) is printed too, since
that is what "same context, faster" means.

    python benchmarks/bench_train.py                       # CPU, tiny model
    python benchmarks/bench_train.py --gpu --prepared .gpu --context-tokens 32k --json $OUT/train_gpu.json
    python benchmarks/bench_train.py --gpu --prepared .gpu --tiny --device cpu --context-tokens 4096  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------------------ CPU mode


def cpu_bench(steps: int) -> dict:
    from glm4v_fixture import build_glm4v_dir
    from glyph_cli.models.ask import Question
    from glyph_cli.train.runconfig import load_run_config
    from glyph_cli.train.stages import run_stage
    from train_kit import PROSE, make_set, rendered

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_glm4v_dir(tmp / "model")
        pairs = rendered([(f"d{i}", f"Document {i}. " + PROSE * 30) for i in range(8)])
        t0 = time.perf_counter()
        ocr = make_set(tmp / "ocr", pairs, tasks=("ocr", "interleave", "generate"))
        elapsed = time.perf_counter() - t0
        n = json.loads((ocr / "manifest.json").read_text())["examples"]
        results["data"] = {"examples": n, "seconds": round(elapsed, 3), "examples_per_second": round(n / elapsed, 1)}
        qs = [Question(f"q{i}", f"What is document {i}?", f"d{i}", {"answer": f"Document {i}", "thinking": "It says so."},
                       "qa", i) for i in range(8)]
        sft = make_set(tmp / "sft", pairs, tasks=("instruct",), questions=qs, ocr_ratio=0.2)

        def run(stage, data, out, n_steps, extra=()):
            cfg = load_run_config(stage, None, [
                f"model={model}", f"data={data}", f"output_dir={out}", "device=cpu", f"training.max_steps={n_steps}",
                "training.gradient_accumulation_steps=1", "training.save_steps=100000", "training.logging_steps=1000",
                *extra])
            return run_stage(cfg)

        grpo_extra = ["grpo.num_generations=4", "grpo.max_completion_length=16", "training.per_device_train_batch_size=4"]
        for stage, data, extra, batch in (("pretrain", ocr, ["training.per_device_train_batch_size=2"], 2),
                                          ("sft", sft, ["training.per_device_train_batch_size=2"], 2),
                                          ("grpo", sft, grpo_extra, 4)):
            run(stage, data, tmp / f"{stage}-warm", 2, extra)
            s = run(stage, data, tmp / stage, steps, extra)
            results[stage] = {"steps": s["step"], "batch": batch, "seconds": s["seconds"],
                              "steps_per_second": s["steps_per_second"], "examples_per_second": s["samples_per_second"]}
    return results


# ------------------------------------------------------------------------------------------ GPU mode

MID_LAYERS = 12


class CountingCollator:
    def __init__(self, collator):
        self.collator = collator
        self.tokens: list[int] = []

    def __call__(self, rows):
        batch = self.collator(rows)
        self.tokens.append(int(batch["attention_mask"].sum()))
        return batch


def _step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._start)

    return StepTimer()


def sft_rate(model, processor, rows, steps: int, warmup: int, device: str, bf16: bool, out: Path) -> dict:
    import torch
    from transformers import Trainer, TrainingArguments

    from glyph_cli.train.collate import Collator

    collate = CountingCollator(Collator(processor))
    timer = _step_timer()
    args = TrainingArguments(output_dir=str(out), max_steps=warmup + steps, per_device_train_batch_size=1,
                             learning_rate=1e-6, bf16=bf16, activation_checkpointing=True, report_to=[],
                             remove_unused_columns=False, save_strategy="no", logging_steps=10**6,
                             use_cpu=device == "cpu", disable_tqdm=True, optim="adamw_torch_fused" if device == "cuda"
                             else "adamw_torch")
    trainer = Trainer(model=model, args=args, train_dataset=rows * (warmup + steps), data_collator=collate,
                      callbacks=[timer])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the figures below are the output
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.train()
    except torch.OutOfMemoryError:
        return {"error": "out of memory"}
    times = timer.times[warmup:]
    tokens = collate.tokens[warmup:warmup + len(times)]
    step = statistics.median(times)
    out_stats = {"tokens_per_step": statistics.median(tokens), "step_s": round(step, 4),
                 "tokens_per_s": round(statistics.median(tokens) / step, 1)}
    if device == "cuda":
        out_stats["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out_stats


def gpu_bench(prepared: Path, sizes, steps: int, warmup: int, text_layers: int, tiny: bool, device: str) -> list[dict]:
    import io
    import base64

    import torch
    from PIL import Image

    from bench_ask_gpu import FULL_TEXT, FULL_VISION, build_model, load_prepared, processor_dir
    from glm4v_fixture import TINY_TEXT, TINY_VISION, glm4v_config
    from glyph_cli.models.prompts import default_template
    from glyph_cli.models.transformers_backend import load_processor
    from glyph_cli.streams.pages import PNG_DATA_URL

    tokenizer, contexts = load_prepared(prepared, sizes)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for ctx in contexts:
            tokens = ctx["context_tokens"]
            text_cfg = dict(TINY_TEXT if tiny else FULL_TEXT)
            if not tiny:
                text_cfg["num_hidden_layers"] = text_layers
            text_cfg["max_position_embeddings"] = max(text_cfg["max_position_embeddings"], tokens + 4096)
            config = glm4v_config(tokenizer, text_cfg, TINY_VISION if tiny else FULL_VISION)
            processor = load_processor(processor_dir(tokenizer, config, tmp / f"proc-{tokens}"))
            answer = "The pass key is 71432."
            question = "What is the pass key mentioned in the text?"
            images = [Image.open(io.BytesIO(base64.b64decode(u[len(PNG_DATA_URL):]))).convert("RGB") for u in ctx["pages"]]

            def row(parts, imgs):
                return {"id": "bench", "parts": [{"kind": p.kind, "value": str(i) if p.kind == "image" else p.value}
                                                 for i, p in enumerate(parts)], "images": imgs, "target": answer}

            pages_row = row(default_template(False).parts(question, images=["x"] * len(images)), images)
            text_row = row(default_template(True).parts(question, context_text=ctx["text"]), [])
            entry = {"context_tokens": tokens, "pages": len(images), "text_layers": text_cfg["num_hidden_layers"],
                     "device": device}
            for mode, r in (("pages", pages_row), ("text", text_row)):
                model = build_model(config, device, dtype).train()
                for name, p in model.named_parameters():
                    p.requires_grad_(".visual." not in f".{name}")  # the vision tower frozen, as glyph trains
                entry[mode] = sft_rate(model, processor, [r], steps, warmup, device, device == "cuda", tmp / mode)
                del model
                if device == "cuda":
                    torch.cuda.empty_cache()
                print(f"context {tokens}: {mode}: {entry[mode]}", flush=True)
            p, t = entry["pages"], entry["text"]
            if "error" not in p and "error" not in t:
                entry["context_tokens_per_s"] = {"pages": round(tokens / p["step_s"], 1),
                                                 "text": round(tokens / t["step_s"], 1)}
                entry["speedup"] = round(t["step_s"] / p["step_s"], 2)
                print(f"context {tokens}: SFT step {p['step_s']:.3f}s with pages ({p['tokens_per_step']} tokens fed) "
                      f"vs {t['step_s']:.3f}s as text ({t['tokens_per_step']} tokens): {entry['speedup']}x", flush=True)
            results.append(entry)
    return results


def sizes(value: str) -> list[int]:
    return [int(v[:-1]) * 1024 if v.lower().endswith("k") else int(v) for v in value.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="measured steps per stage / mode")
    ap.add_argument("--gpu", action="store_true", help="SFT tokens/s, pages vs text, mid-size model")
    ap.add_argument("--prepared", type=Path, help="--gpu: contexts from bench_ask_gpu.py --prepare DIR")
    ap.add_argument("--context-tokens", type=sizes, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--text-layers", type=int, default=MID_LAYERS, help="--gpu: language-model layers (9B has 40)")
    ap.add_argument("--tiny", action="store_true", help="--gpu: tiny dimensions (a smoke run of the script)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {load()}", flush=True)
    if a.gpu:
        if a.prepared is None:
            raise SystemExit("--gpu needs --prepared DIR (made by benchmarks/bench_ask_gpu.py --prepare DIR)")
        if a.device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--gpu: no CUDA device (pass --device cpu --tiny for a smoke run)")
        out = gpu_bench(a.prepared, a.context_tokens, a.steps, a.warmup, a.text_layers, a.tiny, a.device)
    else:
        out = cpu_bench(a.steps)
        for stage, r in out.items():
            if stage == "data":
                print(f"data: {r['examples']} examples in {r['seconds']}s = {r['examples_per_second']} examples/s")
            else:
                print(f"{stage}: {r['steps']} steps of batch {r['batch']}: {r['steps_per_second']} steps/s, "
                      f"{r['examples_per_second']} examples/s")
    print(load(), flush=True)
    if a.json:
        a.json.write_text(json.dumps({"results": out, "load": os.getloadavg()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
