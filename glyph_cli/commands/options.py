"""Options shared by several commands, declared once (the same flag means the same in every command).

A command lists the parameters it takes by name, with these declarations as defaults, and turns
them into library values with the helpers below. Choices are enums, so `--help` lists them and
shell completion offers them.

The conventions (README.md, "Conventions"; tests/test_options.py checks them):
- `-o/--output FILE` is always a file; a folder of output is always `-d/--out-dir DIR` (other
  folders are named for what they hold: `--report DIR`, `--shard-dir DIR`);
- `--format` is always the format of the output; the kind of the input is `--input-format`;
- `-c/--config FILE` is always a render config, `-p/--preset NAME` a render preset;
- a flag spelled in two commands has one meaning (one parameter name) in both.
An old spelling stays as a hidden alias that warns once (`deprecated` + `renamed` below).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from glyph_cli.models.defaults import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL


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


class InputFormat(str, Enum):
    """The kind of input documents: by extension (stdin sniffed), JSONL records or plain text."""
    auto = "auto"
    jsonl = "jsonl"
    text = "text"


class OutputFormat(str, Enum):
    """auto: a table on a terminal, JSONL when piped."""
    auto = "auto"
    table = "table"
    jsonl = "jsonl"


class ReportFormat(str, Enum):
    """What a bench command writes on stdout: its Markdown table, or its records as JSONL."""
    table = "table"
    jsonl = "jsonl"


REPORT_FORMAT: ReportFormat = typer.Option(ReportFormat.table, "--format",
                                           help="stdout: table (Markdown) or jsonl (every record).")


def output_format(choice: "OutputFormat | str") -> str:
    """"table" or "jsonl": `auto` resolved against stdout."""
    import sys

    value = _value(choice)
    if value == "auto":
        return "table" if sys.stdout.isatty() else "jsonl"
    return value


# -- files and folders, formats, render config: one spelling each --------------------------------


def output_file(help: str, default=None) -> typer.Option:
    """`-o/--output FILE`: always a file."""
    return typer.Option(default, "--output", "-o", help=help)


def out_dir(help: str, default=None) -> typer.Option:
    """`-d/--out-dir DIR`: always a folder."""
    return typer.Option(default, "--out-dir", "-d", help=help)


INPUT_FORMAT: InputFormat = typer.Option(InputFormat.auto, "--input-format",
                                         help="Input documents: auto (by extension; stdin sniffed), jsonl or text.")
PRESET: Optional[str] = typer.Option(None, "--preset", "-p", help="Render preset: glyph, glyph-marker, dpi72, dpi96, dpi120.")
CONFIG: Optional[Path] = typer.Option(None, "--config", "-c", help="Render config file (JSON; the official Glyph repo's keys load unchanged).")


def deprecated(*names: str, default=None) -> typer.Option:
    """A hidden old spelling of an option; the command passes its value through `renamed`."""
    return typer.Option(default, *names, hidden=True, show_default=False)


def jsonl_output(fmt: "ReportFormat", old_jsonl: bool) -> bool:
    """Whether a bench command writes JSONL: `--format jsonl`, or the old `--jsonl` (warns)."""
    return renamed(_value(fmt), "jsonl" if old_jsonl else None, "--format jsonl", "--jsonl",
                   default="table") == "jsonl"


def renamed(new, old, new_flag: str, old_flag: str, default=None, why: str = ""):
    """The value of an option given by its new or its old spelling; the old one warns once."""
    if old is None or old == default or old == []:
        return new
    if not (new is None or new == default or new == []):
        from glyph_cli.errors import UsageError

        raise UsageError(f"{old_flag} is the old spelling of {new_flag}: give only {new_flag}")
    from glyph_cli import log

    log.warn(f"{old_flag} is deprecated and will go: use {new_flag}" + (f" ({why})" if why else ""))
    return old

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
ON_ERROR: OnError = typer.Option(OnError.fail, "--on-error", help="fail: stop at the first bad record (exit 1); skip: "
                                 "report it on stderr and go on (exit 1 at the end).")


def on_error(help: str) -> typer.Option:
    """`--on-error fail|skip` with a command's own words for what is skipped."""
    return typer.Option(OnError.fail, "--on-error", help=help)


def policy(choice):
    """The `log.ErrorPolicy` of an `--on-error` value."""
    from glyph_cli import log

    return log.ErrorPolicy(_value(choice))


BACKEND_PARAMS = ("backend", "model", "base_url", "api_key_env", "concurrency", "max_images", "timeout", "retries",
                  "backoff", "batch_size", "device", "dtype", "attn", "trust_remote_code")
_BACKEND_DECLARED = {
    "backend": (Optional[BackendName], BACKEND), "model": (Optional[str], MODEL),
    "base_url": (Optional[str], BASE_URL), "api_key_env": (str, API_KEY_ENV), "concurrency": (int, CONCURRENCY),
    "max_images": (Optional[int], MAX_IMAGES), "timeout": (float, TIMEOUT), "retries": (int, RETRIES),
    "backoff": (float, BACKOFF), "batch_size": (int, BATCH_SIZE), "device": (Device, DEVICE),
    "dtype": (Dtype, DTYPE), "attn": (str, ATTN), "trust_remote_code": (bool, TRUST_REMOTE_CODE),
}


def backend_parameters(after: str, exclude: tuple[str, ...] = ()):
    """Decorator: the shared backend options join a command's parameters (after `after`, in `--help`
    too), and the command receives their values as one dict, its `backend_params` parameter. Written
    once here, so ask, bench accuracy and bench speed cannot drift apart."""
    import functools
    import inspect

    names = [n for n in BACKEND_PARAMS if n not in exclude]

    def wrap(fn):
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.name != "backend_params"]
        at = [p.name for p in params].index(after) + 1
        params[at:at] = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=_BACKEND_DECLARED[n][1],
                                           annotation=_BACKEND_DECLARED[n][0]) for n in names]

        @functools.wraps(fn)
        def command(**kwargs):
            given = {n: kwargs.pop(n) for n in names}
            return fn(**kwargs, backend_params=given)

        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {**fn.__annotations__, **{n: _BACKEND_DECLARED[n][0] for n in names}}
        return command

    return wrap


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
