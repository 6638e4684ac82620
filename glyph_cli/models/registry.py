"""Backends from one place: a name and typed options in, a `Backend` out.

`glyph ask`, `glyph bench accuracy` and `glyph bench speed` all build their model through `build`,
so a backend option means the same in each. Nothing heavy is imported until a backend is built, and
a missing model directory is reported before transformers or torch are imported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from glyph_cli.errors import UsageError
from glyph_cli.models.backend import Backend, Sampling
from glyph_cli.models.defaults import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL

BACKENDS = ("transformers", "openai")


@dataclass(frozen=True)
class BackendOptions:
    """Everything a backend is built from. `backend` None: openai when `base_url` is set, else transformers."""

    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = DEFAULT_API_KEY_ENV
    concurrency: int = 8
    max_images: int | None = None
    timeout: float = 600.0
    retries: int = 5
    backoff: float = 0.5
    batch_size: int = 1
    device: str = "auto"
    dtype: str = "auto"
    attn: str = "auto"
    trust_remote_code: bool = False

    @property
    def name(self) -> str:
        return self.backend or ("openai" if self.base_url else "transformers")

    def with_(self, **changes) -> "BackendOptions":
        return replace(self, **changes)

    def check(self) -> "BackendOptions":
        """Raise a UsageError for options no backend could be built from (before anything is loaded)."""
        if self.name not in BACKENDS:
            raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, not {self.name!r}")
        if self.concurrency < 1 or self.batch_size < 1:
            raise UsageError("concurrency and batch size must be at least 1")
        if self.name == "transformers":
            if not self.model:
                raise UsageError("the transformers backend needs a local model directory",
                                 "or name an OpenAI-compatible server to use that")
            from glyph_cli.models.transformers_backend import check_model_dir

            check_model_dir(self.model)  # before transformers and torch are imported: a usage error is quick
        return self


def build(options: BackendOptions, sampling: Sampling = Sampling()) -> Backend:
    """The backend `options` describe, ready to generate."""
    options.check()
    if options.name == "openai":
        from glyph_cli.models.openai_backend import OpenAIBackend

        return OpenAIBackend(options.base_url or DEFAULT_BASE_URL, options.model, sampling=sampling,
                             concurrency=options.concurrency, max_images=options.max_images,
                             timeout=options.timeout, retries=options.retries, backoff=options.backoff,
                             api_key_env=options.api_key_env)
    from glyph_cli.models.transformers_backend import TransformersBackend

    return TransformersBackend.load(options.model, sampling=sampling, batch_size=options.batch_size,
                                    device=options.device, dtype=options.dtype,
                                    trust_remote_code=options.trust_remote_code, attn=options.attn)
