"""Options shared by several commands, declared once (the same flag means the same in every command).

A command lists the parameters it takes by name, with these declarations as defaults, and turns
them into library values with the helpers below. Choices are enums, so `--help` lists them and
shell completion offers them.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from glyph_cli.models.openai_backend import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL


class BackendName(str, Enum):
    transformers = "transformers"
    openai = "openai"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Dtype(str, Enum):
    auto = "auto"
    bfloat16 = "bfloat16"
    float16 = "float16"
    float32 = "float32"


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


# -- the model backend (glyph ask, glyph bench accuracy, glyph bench speed) -------------------------

BACKEND: Optional[BackendName] = typer.Option(
    None, "--backend", "-b", help="Model backend (default: openai when --base-url is given, else transformers).")
MODEL: Optional[str] = typer.Option(None, "--model", "-m", help="transformers: a local model directory. "
                                    "openai: the served model name (default: the server's first model).")
BASE_URL: Optional[str] = typer.Option(None, "--base-url", help=f"OpenAI-compatible server [{DEFAULT_BASE_URL}].")
API_KEY_ENV: str = typer.Option(DEFAULT_API_KEY_ENV, "--api-key-env", help="Environment variable with the API key.")
CONCURRENCY: int = typer.Option(8, "--concurrency", help="openai: requests in flight.")
MAX_IMAGES: Optional[int] = typer.Option(None, "--max-images", help="openai: the server's image limit per "
                                         "request; longer documents fail with a clear error.")
TIMEOUT: float = typer.Option(600.0, "--timeout", help="openai: seconds one request may take in all (a streamed reply included).")
RETRIES: int = typer.Option(5, "--retries", help="openai: retries on 429/5xx, timeouts and bad replies.")
BACKOFF: float = typer.Option(0.5, "--backoff", help="openai: first retry delay in seconds (doubles each time).")
BATCH_SIZE: int = typer.Option(1, "--batch-size", help="transformers: questions per forward pass.")
DEVICE: Device = typer.Option(Device.auto, "--device", help="transformers: where the model runs.")
DTYPE: Dtype = typer.Option(Dtype.auto, "--dtype", help="transformers: weights' dtype (auto: bfloat16 on GPU).")
ATTN: str = typer.Option("auto", "--attn", help="transformers: attention kernel: auto (transformers' choice, "
                         "sdpa where supported), sdpa, eager, flash_attention_2 (needs flash-attn), ...")
TRUST_REMOTE_CODE: bool = typer.Option(False, "--trust-remote-code",
                                       help="transformers: run code shipped in the model directory.")
ON_ERROR: OnError = typer.Option(OnError.fail, "--on-error", help="fail: stop at the first failure; skip: report "
                                 "it on stderr and go on (exit 1 at the end).")


BACKEND_PARAMS = ("backend", "model", "base_url", "api_key_env", "concurrency", "max_images", "timeout", "retries",
                  "backoff", "batch_size", "device", "dtype", "attn", "trust_remote_code")


def backend_from(params: dict, **overrides):
    """`backend_options` of the backend parameters among a command's `params` (its `locals()`)."""
    return backend_options(**{k: params[k] for k in BACKEND_PARAMS if k in params and k not in overrides},
                           **overrides)


def _value(choice):
    return choice.value if isinstance(choice, Enum) else choice


def backend_options(*, backend=None, model=None, base_url=None, api_key_env=DEFAULT_API_KEY_ENV, concurrency=8,
                    max_images=None, timeout=600.0, retries=5, backoff=0.5, batch_size=1, device="auto",
                    dtype="auto", attn="auto", trust_remote_code=False):
    """The `BackendOptions` of the shared backend flags, checked (a usage error names the flag)."""
    from glyph_cli.errors import UsageError
    from glyph_cli.models.registry import BackendOptions

    options = BackendOptions(_value(backend), model, base_url, api_key_env, concurrency, max_images, timeout,
                             retries, backoff, batch_size, _value(device), _value(dtype), attn, trust_remote_code)
    if options.name == "transformers" and not model:
        raise UsageError("the transformers backend needs --model DIR (a local model directory)",
                         "or pass --base-url to use a server")
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    return options.check()
