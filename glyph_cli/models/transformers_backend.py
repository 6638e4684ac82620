"""A local image-text-to-text model run with transformers, on CPU or CUDA, in batches.

Loads any model directory that `AutoModelForImageTextToText` and its processor understand; the
released `zai-org/Glyph` directory (GLM-4.1V: config.json, preprocessor_config.json,
tokenizer.json, tokenizer_config.json, chat_template.jinja, safetensors) loads unchanged.

The processor is built image-only. Qwen2-VL-style processors (GLM-4.1V's among them) also load a
video processor, and transformers can build that only with torchvision installed; `glyph ask` never
sends video, so the processor class is loaded without that component instead of requiring
torchvision. Remote code runs only with `trust_remote_code=True`, and then the model directory's
own AutoProcessor mapping is used as it stands.

torch and transformers are imported inside functions only: `glyph --help` must not pay for them.
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
import json
import time
from pathlib import Path
from typing import Iterable, Iterator

from glyph_cli import __version__, log
from glyph_cli.errors import ConfigError, GlyphError, UsageError
from glyph_cli.models.backend import Backend, Generation, Job, Sampling
from glyph_cli.models.prompts import chat_messages
from glyph_cli.models.repetition import repeating_tail
from glyph_cli.streams.pages import PNG_DATA_URL

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "bfloat16", "float16", "float32")
# Attention kernels transformers knows by name; a hub kernel ("kernels-community/...") passes through.
ATTENTION = ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")
# Files that name the processor class, in the order transformers' AutoProcessor consults them.
_PROCESSOR_CLASS_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")
# The guard looks at the output every this many new tokens: a loop is caught at most this late.
_GUARD_EVERY = 16


def check_model_dir(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"--model {path}: no such directory",
                         "the transformers backend loads a local model directory "
                         "(for example one made with `hf download zai-org/Glyph --local-dir DIR`)")
    if not (p / "config.json").is_file():
        raise UsageError(f"--model {path}: no config.json in this directory", "point --model at the model directory")
    return p


def processor_class_name(path: Path) -> str | None:
    """The processor class the model directory asks for, or None to use the model type's default."""
    for name in _PROCESSOR_CLASS_FILES:
        f = path / name
        if f.is_file():
            try:
                value = json.loads(f.read_text(encoding="utf-8")).get("processor_class")
            except (ValueError, AttributeError):
                raise ConfigError(f"{f}: not a JSON object") from None
            if value:
                return value
    return None


def _image_only(processor_cls: type) -> type:
    """`processor_cls` without its video processor (the only component that needs torchvision)."""
    if "video_processor" not in inspect.signature(processor_cls.__init__).parameters:
        return processor_cls

    class ImageOnlyProcessor(processor_cls):
        # ProcessorMixin takes its components from this signature, so the video processor is neither
        # loaded nor checked; the parent is handed None for it.
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    ImageOnlyProcessor.__name__ = ImageOnlyProcessor.__qualname__ = processor_cls.__name__
    return ImageOnlyProcessor


def load_processor(path: str | Path, trust_remote_code: bool = False):
    from transformers import AutoConfig, AutoProcessor
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING, processor_class_from_name

    path = check_model_dir(path)
    if trust_remote_code:
        return AutoProcessor.from_pretrained(path, trust_remote_code=True, local_files_only=True)
    name = processor_class_name(path)
    if name is not None:
        processor_cls = processor_class_from_name(name)
        if processor_cls is None:
            raise ConfigError(f"{path}: unknown processor class {name!r} for transformers "
                              f"{_version('transformers')}",
                              "upgrade transformers, or pass --trust-remote-code if the directory ships its code")
    else:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        if type(config) not in PROCESSOR_MAPPING:
            raise ConfigError(f"{path}: model type {config.model_type!r} has no processor in transformers",
                              "the transformers backend needs an image-text-to-text model")
        processor_cls = PROCESSOR_MAPPING[type(config)]
    processor = _image_only(processor_cls).from_pretrained(path, local_files_only=True)
    # Batched generation appends to the right end of every row, so prompts are padded on the left.
    processor.tokenizer.padding_side = "left"
    return processor


def resolve_device(device: str) -> str:
    import torch

    if device not in DEVICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available", "use --device cpu")
    return device


def resolve_dtype(dtype: str, device: str):
    """bfloat16 on a GPU that has it, float16 on one that does not, float32 on CPU (where the
    half types are slow or unsupported) unless asked."""
    import torch

    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if dtype == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def resolve_attention(attn: str) -> str | None:
    """None lets transformers choose (sdpa where the model supports it)."""
    if attn == "auto":
        return None
    if attn not in ATTENTION and "/" not in attn:
        raise UsageError(f"--attn must be one of {', '.join(ATTENTION)} or a hub kernel name, not {attn!r}")
    return attn


def load_model(path: str | Path, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
               attn: str = "auto"):
    """The weights go straight to `device` (no full copy in host memory first, as `.to(device)` after
    loading would need: 20 GB for Glyph's 9B in bfloat16)."""
    from transformers import AutoModelForImageTextToText
    from transformers.utils import logging as hf_logging

    path = check_model_dir(path)
    if not log.progress_enabled():
        hf_logging.disable_progress_bar()  # its weight-loading bar follows glyph's --progress rule
    device = resolve_device(device)
    kernel = resolve_attention(attn)
    options = {"attn_implementation": kernel} if kernel else {}
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path, dtype=resolve_dtype(dtype, device), device_map=device, trust_remote_code=trust_remote_code,
            local_files_only=True, **options)
    except ImportError as exc:  # e.g. --attn flash_attention_2 without the flash-attn package
        raise ConfigError(f"--model {path}: {exc}") from None
    return model.eval()


@functools.cache
def _stop_watch_class():
    from transformers import StoppingCriteria

    class StopWatch(StoppingCriteria):
        """Notes when the first new token appears and stops rows that fall into a loop."""

        def __init__(self, prompt_len: int, window: int, end_ids: set[int]):
            self.prompt_len = prompt_len
            self.window = window
            self.end_ids = end_ids
            self.first_token_at: float | None = None
            self.stopped_at: dict[int, int] = {}  # row -> new tokens when the guard stopped it

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            if self.first_token_at is None:
                input_ids[:, -1].tolist()  # on a GPU, Python runs ahead of the kernels: wait for the token
                self.first_token_at = time.perf_counter()
            new = input_ids.shape[1] - self.prompt_len
            if self.window and new >= self.window and new % _GUARD_EVERY == 0:
                for row, ids in enumerate(input_ids[:, -self.window:].tolist()):
                    # A finished row is padded from here on, and padding repeats too.
                    if row in self.stopped_at or self.end_ids.intersection(input_ids[row, self.prompt_len:].tolist()):
                        continue
                    if repeating_tail(ids, self.window):
                        self.stopped_at[row] = new
            if not self.stopped_at:  # made on the device: no host-to-device copy, no wait for the GPU
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            flags = [row in self.stopped_at for row in range(input_ids.shape[0])]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return StopWatch


def _image(url: str):
    from PIL import Image

    if not url.startswith(PNG_DATA_URL):
        raise GlyphError("page image is not a PNG data URL")
    return Image.open(io.BytesIO(base64.b64decode(url[len(PNG_DATA_URL):]))).convert("RGB")


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _what(job: Job) -> str:
    return f"{len(job.images)} page(s)" if job.images else "the document as text"


def _context_limit(model) -> int | None:
    """The positions the language model was built for (GLM-4.1V: text_config.max_position_embeddings)."""
    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    limit = getattr(text_config, "max_position_embeddings", None)
    return limit if isinstance(limit, int) and limit > 0 else None


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, model, processor, *, sampling: Sampling = Sampling(), batch_size: int = 1,
                 model_name: str | None = None):
        if batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        self.model = model
        self.processor = processor
        self.sampling = sampling
        self.batch_size = batch_size
        self.model_name = model_name or getattr(model, "name_or_path", None) or type(model).__name__
        self.end_ids = self._end_ids()
        self.context_limit = _context_limit(model)

    @classmethod
    def load(cls, path: str | Path, *, sampling: Sampling = Sampling(), batch_size: int = 1, device: str = "auto",
             dtype: str = "auto", trust_remote_code: bool = False, attn: str = "auto") -> "TransformersBackend":
        processor = load_processor(path, trust_remote_code)
        model = load_model(path, device, dtype, trust_remote_code, attn)
        return cls(model, processor, sampling=sampling, batch_size=batch_size, model_name=str(path))

    def _end_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.processor.tokenizer.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        if not ids:
            raise ConfigError(f"{self.model_name}: neither generation_config.json nor the tokenizer names an end token")
        return ids

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model": self.model_name,
            "architecture": type(self.model).__name__,
            "device": str(self.model.device),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "attention": getattr(self.model.config, "_attn_implementation", None),
            "batch_size": self.batch_size,
            "sampling": self.sampling.to_dict(),
            "versions": {"glyph": __version__, "transformers": _version("transformers"), "torch": _version("torch")},
        }

    def generate(self, jobs: Iterable[Job], ordered: bool = True) -> Iterator[tuple[Job, Generation | Exception]]:
        # Batches run one after another, so results come in job order either way.
        batch: list[Job] = []
        for job in jobs:
            batch.append(job)
            if len(batch) == self.batch_size:
                yield from self._run(batch)
                batch = []
        if batch:
            yield from self._run(batch)

    def _run(self, batch: list[Job]) -> Iterator[tuple[Job, Generation | Exception]]:
        results: dict[int, Generation | Exception] = {}
        try:
            inputs = self._inputs(batch)
            results.update(self._too_long(batch, inputs))
            rest = [i for i in range(len(batch)) if i not in results]
            if results and rest:
                inputs = self._inputs([batch[i] for i in rest])
            if rest:
                results.update(zip(rest, self._generate_batch(inputs)))
        except (GlyphError, ValueError, OSError, RuntimeError) as exc:
            error = self._batch_error(exc, batch)
            results = {i: results.get(i, error) for i in range(len(batch))}
        yield from ((job, results[i]) for i, job in enumerate(batch))

    def _too_long(self, batch: list[Job], inputs) -> dict[int, GlyphError]:
        """Questions whose prompt alone is longer than the model reads: they fail, the rest run."""
        if self.context_limit is None:
            return {}
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        return {i: GlyphError(f"the prompt is {n:,} tokens ({_what(job)}), longer than the model's context of "
                              f"{self.context_limit:,} tokens",
                              "render at a lower dpi or split the document")
                for i, (job, n) in enumerate(zip(batch, lengths)) if n > self.context_limit}

    def _batch_error(self, exc: Exception, batch: list[Job]) -> GlyphError:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            # Give the failed batch's activations back, so the next batch starts from the weights alone.
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            pages = sum(len(job.images) for job in batch)
            return GlyphError(f"generation failed: out of {self.model.device.type} memory with {len(batch)} "
                              f"question(s) and {pages} page(s) in the batch",
                              "lower --batch-size, send fewer pages per document (render at a lower dpi), "
                              "or --max-new-tokens")
        return GlyphError(f"generation failed: {type(exc).__name__}: {exc}")

    def _generation_config(self):
        import copy

        s = self.sampling
        config = copy.deepcopy(self.model.generation_config)
        settings = {"max_new_tokens": s.max_new_tokens, "min_new_tokens": s.min_new_tokens or None,
                    "repetition_penalty": s.repetition_penalty, "pad_token_id": self._pad_id()}
        if s.greedy:
            settings.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        else:
            settings.update(do_sample=True, temperature=s.temperature, top_k=s.top_k or None, top_p=s.top_p)
        config.update(**settings)
        return config

    def _pad_id(self) -> int:
        pad = self.processor.tokenizer.pad_token_id
        return pad if pad is not None else min(self.end_ids)

    def _inputs(self, batch: list[Job]):
        texts = [self.processor.apply_chat_template(chat_messages(job.parts, "placeholder"),
                                                    add_generation_prompt=True, tokenize=False)
                 for job in batch]
        images = [_image(url) for job in batch for url in job.images]
        # The chat template writes every special token itself; a GLM tokenizer told to add its own
        # would put a second [gMASK]<sop> in front.
        inputs = self.processor(text=texts, images=images or None, return_tensors="pt", padding=True,
                                add_special_tokens=False)
        return inputs.to(self.model.device, dtype=self.model.dtype)

    def _generate_batch(self, inputs) -> list[Generation]:
        import torch

        prompt_len = inputs["input_ids"].shape[1]
        watch = _stop_watch_class()(prompt_len, self.sampling.repeat_window, self.end_ids)
        if not self.sampling.greedy:
            torch.manual_seed(self.sampling.seed)
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(**inputs, generation_config=self._generation_config(),
                                         stopping_criteria=[watch])
        latency = time.perf_counter() - start
        ttft = watch.first_token_at - start if watch.first_token_at is not None else None
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, ids in enumerate(output[:, prompt_len:].tolist()):
            if row in watch.stopped_at:
                ids, finish, counted = ids[:watch.stopped_at[row]], "repetition", watch.stopped_at[row]
            else:
                end = next((i for i, t in enumerate(ids) if t in self.end_ids), None)
                if end is None:
                    finish, counted = "length", len(ids)
                else:
                    ids, finish, counted = ids[:end], "stop", end + 1
            raw = self.processor.tokenizer.decode(ids, skip_special_tokens=False)
            results.append(Generation(raw=raw, finish=finish, prompt_tokens=int(prompt_tokens[row]),
                                      completion_tokens=counted, latency_s=latency, ttft_s=ttft))
        return results
