"""Any OpenAI-compatible chat server (vLLM, SGLang), the way Glyph is served.

One user message holds every page as a base64 PNG `image_url` and then the question. Requests run
on `concurrency` threads with keep-alive connections (stdlib http.client only); 429s, 5xx replies,
dropped connections, timeouts and malformed replies are retried with exponential backoff (honouring
Retry-After), other 4xx replies fail the record with the server's message. Replies are streamed, so
the repetition guard can hang up on a runaway generation instead of paying for all of it, and the
time to the first token is measured. A server that answers with one JSON body instead is read too.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import threading
import time
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

import orjson

from glyph_cli import __version__
from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.models.backend import Backend, Generation, Job, Sampling
from glyph_cli.models.defaults import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL  # noqa: F401  (re-exported)
from glyph_cli.models.prompts import Part, chat_messages
from glyph_cli.models.repetition import TextGuard

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 60.0
MAX_ERROR_BODY = 64 << 10  # bytes of an error reply read at most
MAX_ERROR_CHARS = 500  # characters of it shown
MAX_SSE_LINE = 8 << 20  # one server-sent-event line; a longer one is a hostile or broken server
# Ordered output holds finished answers until the ones before them are done; this many per worker
# keeps the workers busy behind one slow request without holding the whole run in memory.
ORDERED_WINDOW_PER_WORKER = 4


class RetryableError(GlyphError):
    """A failure worth another attempt: rate limit, server error, timeout, broken or garbled reply."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def request_body(model: str, parts: list[Part], sampling: Sampling) -> dict:
    """The chat completion request. top_k, repetition_penalty and min_tokens are vLLM/SGLang extensions."""
    body = {
        "model": model,
        "messages": chat_messages(parts, "url"),
        "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "repetition_penalty": sampling.repetition_penalty,
        "seed": sampling.seed,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if sampling.top_k > 0:
        body["top_k"] = sampling.top_k
    if sampling.min_new_tokens:
        body["min_tokens"] = sampling.min_new_tokens
    return body


class _Reply:
    """A completion assembled from stream chunks or one JSON body."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.finish: str | None = None
        self.usage: dict | None = None
        self.first_token_at: float | None = None

    def add_choice(self, choice: object, key: str) -> str:
        """Take one choice's text; returns the text it added."""
        if not isinstance(choice, dict) or not isinstance(choice.get(key), dict):
            raise RetryableError(f"malformed reply: a choice without {key!r}")
        part = choice[key]
        added = ""
        # vLLM's reasoning parser says `reasoning_content`, newer servers `reasoning`; some send both.
        reasoning_field = "reasoning_content" if part.get("reasoning_content") is not None else "reasoning"
        for field, sink in (("content", self.content), (reasoning_field, self.reasoning)):
            value = part.get(field)
            if value is None:
                continue
            if not isinstance(value, str):
                raise RetryableError(f"malformed reply: {field} is {type(value).__name__}")
            if value and self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            sink.append(value)
            added += value
        if choice.get("finish_reason"):
            self.finish = str(choice["finish_reason"])
        return added

    def add_payload(self, payload: object, key: str) -> str:
        """Take one reply object (a stream chunk or the whole body); returns the text it added."""
        if not isinstance(payload, dict):
            raise RetryableError("malformed reply: not a JSON object")
        if payload.get("error"):
            raise RetryableError(f"server error mid-reply: {_error_message(payload)}")
        choices = payload.get("choices")
        if not isinstance(choices, list):
            raise RetryableError("malformed reply: no choices")
        added = self.add_choice(choices[0], key) if choices else ""
        if isinstance(payload.get("usage"), dict):
            self.usage = payload["usage"]
        return added


def _error_message(payload: object) -> str:
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if payload.get("detail"):
            return str(payload["detail"])
    return str(payload)[:300]


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(value))) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff schedule


def parallel(fn: Callable, items: Iterable, workers: int, ordered: bool) -> Iterator[tuple]:
    """(item, fn(item)) for every item, computed on `workers` daemon threads (glyph_cli.parallel):
    Ctrl-C ends the process without waiting for requests that are still out. An error `fn` raises
    or returns becomes that item's result."""
    from glyph_cli.parallel import ordered_map

    def pair(item):
        try:
            return item, fn(item)
        except Exception as exc:  # a bug must fail its item, not the whole run
            return item, exc

    window = workers * (ORDERED_WINDOW_PER_WORKER if ordered else 1)
    return ordered_map(pair, items, workers, window=window, ordered=ordered, daemon=True)


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, base_url: str = DEFAULT_BASE_URL, model: str | None = None, *,
                 sampling: Sampling = Sampling(), concurrency: int = 8, max_images: int | None = None,
                 timeout: float = 600.0, retries: int = 5, backoff: float = 0.5,
                 api_key_env: str = DEFAULT_API_KEY_ENV):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--base-url {base_url!r} is not an http(s) URL", "for example http://127.0.0.1:8000/v1")
        if concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        if max_images is not None and max_images < 1:
            raise UsageError("--max-images must be at least 1")
        if timeout <= 0:
            raise UsageError("--timeout must be positive")
        if retries < 0 or backoff < 0:
            raise UsageError("--retries and --backoff must not be negative")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/")
        self.model = model
        self.sampling = sampling
        self.concurrency = concurrency
        self.max_images = max_images
        self.timeout = timeout
        self.deadline = timeout  # one whole request, not only one read, must finish within it
        self.retries = retries
        self.backoff = backoff
        self.api_key_env = api_key_env
        api_key = os.environ.get(api_key_env)
        self._api_key = api_key or None
        if api_key_env != DEFAULT_API_KEY_ENV and not api_key:
            raise UsageError(f"--api-key-env {api_key_env}: that environment variable is not set")
        self._headers = {"Content-Type": "application/json", "Accept": "text/event-stream, application/json",
                         "User-Agent": f"glyph/{__version__}"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _with_retries(self, attempt_fn: Callable[[], object], what: str = "") -> tuple[object, int]:
        """attempt_fn() until it succeeds, a non-retryable error, or the retries run out."""
        for attempt in range(self.retries + 1):
            try:
                return attempt_fn(), attempt + 1
            except (RetryableError, OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                if attempt == self.retries:
                    raise GlyphError(self._redact(f"{what}gave up after {attempt + 1} attempt(s): {_describe(exc)}"),
                                     f"is the server at {self.base_url} up? see --retries and --timeout") from None
                delay = getattr(exc, "retry_after", None)
                if delay is None:
                    delay = min(MAX_BACKOFF_S, self.backoff * 2 ** attempt) * random.uniform(0.5, 1.0)
                time.sleep(delay)
            except GlyphError:
                self._drop_connection()
                raise
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: bytes | None) -> http.client.HTTPResponse:
        conn = self._connection()
        conn.request(method, self._path + path, body=body, headers=self._headers)
        resp = conn.getresponse()
        if resp.status == 200:
            return resp
        data = resp.read(MAX_ERROR_BODY)  # an error body is read only this far: it may be huge
        try:
            message = _error_message(orjson.loads(data))
        except orjson.JSONDecodeError:
            message = data.decode("utf-8", "replace").strip() or resp.reason
        self._drop_connection()  # the rest of a long body is not read: this connection is done
        message = self._redact(message)
        if len(message) > MAX_ERROR_CHARS:
            message = message[:MAX_ERROR_CHARS] + f"... ({len(data)}+ bytes, cut)"
        if resp.status in RETRY_STATUS:
            raise RetryableError(f"HTTP {resp.status}: {message}", _retry_after(resp.getheader("Retry-After")))
        hint = None
        if resp.status == 400 and "image" in message.lower():
            hint = "the server limits images per request: see --max-images and the server's image limit"
        raise GlyphError(f"HTTP {resp.status} from {self.base_url}: {message}", hint)

    # -- model discovery -----------------------------------------------------------------------

    def resolve_model(self) -> str:
        """The model to ask: --model, or the first one the server lists."""
        if self.model is None:
            def attempt() -> str:
                resp = self._send("GET", "/models", None)
                try:
                    data = orjson.loads(resp.read())["data"]
                    return str(data[0]["id"])
                except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
                    raise RetryableError("malformed /models reply") from None

            self.model, _ = self._with_retries(attempt, f"{self.base_url}/models: ")
        return self.model

    def describe(self) -> dict:
        """What a run asks: the model is resolved first, so a record never says null for it."""
        return {
            "backend": self.name,
            "base_url": self.base_url,
            "model": self.resolve_model(),
            "concurrency": self.concurrency,
            "max_images": self.max_images,
            "api_key_env": self.api_key_env if "Authorization" in self._headers else None,
            "sampling": self.sampling.to_dict(),
            "versions": {"glyph": __version__},
        }

    # -- completions ---------------------------------------------------------------------------

    def generate(self, jobs: Iterable[Job], ordered: bool = True) -> Iterator[tuple[Job, Generation | Exception]]:
        self.resolve_model()
        return parallel(self._complete, jobs, self.concurrency, ordered)

    def _complete(self, job: Job) -> Generation | Exception:
        try:
            if self.max_images is not None and len(job.images) > self.max_images:
                raise GlyphError(f"document {job.doc_id!r} has {len(job.images)} pages, more than --max-images "
                                 f"{self.max_images} allows",
                                 "raise the server's image limit (vLLM: --limit-mm-per-prompt) and --max-images, "
                                 "or render more text per page")
            body = orjson.dumps(request_body(self.model, job.parts, self.sampling))
            start = time.perf_counter()
            generation, attempts = self._with_retries(lambda: self._attempt(body))
            generation.latency_s = time.perf_counter() - start
            generation.attempts = attempts
            return generation
        except GlyphError as exc:
            return GlyphError(self._redact(f"question {job.qid!r} on document {job.doc_id!r}: {exc}"))

    def _attempt(self, body: bytes) -> Generation:
        start = time.perf_counter()
        resp = self._send("POST", "/chat/completions", body)
        reply = _Reply()
        if (resp.getheader("Content-Type") or "").startswith("application/json"):
            try:
                data = resp.read(MAX_SSE_LINE + 1)
                if len(data) > MAX_SSE_LINE:
                    self._drop_connection()
                    raise GlyphError(f"malformed reply: a JSON reply over {MAX_SSE_LINE} bytes")
                reply.add_payload(orjson.loads(data), "message")
            except orjson.JSONDecodeError:
                raise RetryableError("malformed reply: invalid JSON") from None
            finish = reply.finish
        else:
            finish = self._read_stream(resp, reply)
        if finish is None:
            raise RetryableError("the reply ended without a finish reason")
        usage = reply.usage or {}
        return Generation(
            raw="".join(reply.content),
            reasoning="".join(reply.reasoning) if reply.reasoning else None,
            finish=finish,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            ttft_s=reply.first_token_at - start if reply.first_token_at is not None else None,
        )

    def _redact(self, text: str) -> str:
        """The API key never appears in a message, whatever the server echoes back."""
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return text

    def _read_stream(self, resp: http.client.HTTPResponse, reply: _Reply) -> str | None:
        """Read server-sent events until [DONE]; hang up on a runaway generation, on a reply over its
        deadline or token cap, and on an event line over MAX_SSE_LINE bytes."""
        guard = TextGuard(self.sampling.repeat_window)
        deadline = time.monotonic() + self.deadline
        cap = self.sampling.max_new_tokens
        events = 0
        while line := resp.readline(MAX_SSE_LINE + 1):
            if len(line) > MAX_SSE_LINE and not line.endswith(b"\n"):
                self._drop_connection()
                raise GlyphError(f"malformed reply: an event-stream line over {MAX_SSE_LINE} bytes")
            if time.monotonic() > deadline:
                self._drop_connection()
                raise GlyphError(f"the reply took longer than the {self.deadline:g} s deadline",
                                 "raise --timeout, or lower --max-new-tokens")
            line = line.strip()
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, event names
            data = line[5:].strip()
            if data == b"[DONE]":
                resp.read()  # the end of the chunked body, so the connection can carry the next request
                return reply.finish
            try:
                added = reply.add_payload(orjson.loads(data), "delta")
            except orjson.JSONDecodeError:
                raise RetryableError("malformed reply: invalid JSON in the event stream") from None
            if reply.finish is None and guard.feed(added):
                # Closing the connection is how a client cancels a streamed request.
                self._drop_connection()
                return "repetition"
            events += 1
            # One event carries at least one token; a server that ignores max_tokens is cut off.
            if reply.finish is None and cap and events > cap + 16:
                self._drop_connection()
                return "length"
        if reply.finish is not None:
            return reply.finish
        raise RetryableError("the event stream ended early")

    def close(self) -> None:
        self._drop_connection()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(exc) or type(exc).__name__
