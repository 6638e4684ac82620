"""A local OpenAI-compatible chat server for tests and benchmarks (stdlib only, 127.0.0.1 only).

It checks the request shape Glyph's serving expects (one user message: PNG data-URL images, then
text), answers deterministically from the request, tracks concurrency, and misbehaves on demand.
A plan maps a question to the actions for its successive attempts:

    ok        stream a normal reply (default)
    json      answer with one JSON body instead of a stream
    429 / 500 / 503 / 400   that status (429 and 503 with Retry-After: 0)
    hang      send nothing for `hang_s` seconds, then close (the client should time out first)
    drop      close the connection without a reply
    garbage   a 200 event stream whose data is not JSON
    nochoice  a 200 event stream of JSON objects without choices
    loop      stream the same few words until the client hangs up (at most `loop_limit` chunks)
    slow      wait `slow_s` seconds, then reply normally
  hostile ones (each bounded by `hostile_s` seconds, so a client that never gives up fails a test
  instead of hanging it):
    forever   stream content chunks with no finish reason, ignoring max_tokens
    keepalive send SSE comment lines (": ping") and nothing else
    longline  one event line that never ends
    echo      a 500 whose body echoes the request headers (the Authorization key with them)
    hugebody  a 400 with a `huge_bytes` body

Run as a script (`python fake_openai_server.py [DELAY_S]`) it serves on a free port, prints the port,
and reports its counters at GET /v1/stats, the concurrency peak since the previous read (used by
benchmarks/bench_ask_client.py).
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URL = re.compile(r"^data:image/png;base64,([A-Za-z0-9+/=]+)$")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 would stall a client at concurrency 64

    def __init__(self, model: str = "fake-glyph", delay_s: float = 0.0, think: str = "inline",
                 hang_s: float = 3.0, slow_s: float = 0.5, loop_limit: int = 2000, chunks: int = 4):
        super().__init__(("127.0.0.1", 0), Handler)
        self.model = model
        self.delay_s = delay_s
        self.think = think  # "inline": <think> in the content; "separate": vLLM's reasoning_content
        self.hang_s = hang_s
        self.slow_s = slow_s
        self.loop_limit = loop_limit
        self.chunks = chunks
        self.hostile_s = 30.0
        self.huge_bytes = 20 << 20
        self.lock = threading.Lock()
        self.plans: dict[str, collections.deque] = {}
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.handler_s = 0.0  # time spent answering completions, for the client-overhead benchmark
        self.thread: threading.Thread | None = None
        self.keep_bodies = True  # a benchmark's thousands of multi-page requests need not stay in memory
        self.check_images = True  # decoding every PNG is the server's main cost; a benchmark skips it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def plan(self, question: str, *actions: str) -> None:
        self.plans[question] = collections.deque(actions)

    def next_action(self, question: str) -> str:
        with self.lock:
            actions = self.plans.get(question)
            return actions.popleft() if actions else "ok"

    def start(self) -> "FakeServer":
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def check_request(body: object, check_images: bool = True) -> tuple[str, int]:
    """(question, number of images) of a well-formed request; ValueError says what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ValueError("no model")
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1 or messages[0].get("role") != "user":
        raise ValueError("expected exactly one user message")
    content = messages[0].get("content")
    if not isinstance(content, list) or not content or content[-1].get("type") != "text":
        raise ValueError("content must be a list of parts ending with the question text")
    images = 0
    for part in content[:-1]:
        if part.get("type") == "image_url":
            url = part.get("image_url", {}).get("url", "")
            if not check_images:
                if not url.startswith("data:image/png;base64,"):
                    raise ValueError("an image is not a base64 PNG data URL")
            elif not (match := DATA_URL.match(url)) or not base64.b64decode(match.group(1)).startswith(PNG_MAGIC):
                raise ValueError("an image is not a base64 PNG data URL")
            images += 1
        elif part.get("type") != "text":
            raise ValueError(f"unknown part type {part.get('type')!r}")
    return content[-1]["text"], images


def answer_for(question: str, images: int) -> tuple[str, str]:
    """(thinking, answer): the answer echoes the question so a test can match records to requests."""
    return f"{images} page(s) read", f"ANSWER[{question}] pages={images}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def setup(self):
        super().setup()
        # Replies go out in several writes (headers, then chunks); without this, Nagle's algorithm and
        # the client's delayed ACK stall each reply by ~40 ms. Real servers (uvicorn) set it too.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # quiet: tests read stderr
        pass

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})
        elif self.path.rstrip("/") == "/v1/stats":  # for a benchmark in another process
            with self.server.lock:
                stats = {"requests": len(self.server.requests), "handler_s": self.server.handler_s,
                         "max_in_flight": self.server.max_in_flight}
                self.server.max_in_flight = self.server.in_flight  # report the peak since the last read
            self._json(200, stats)
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        start = time.perf_counter()
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        try:
            body = json.loads(raw)
            question, images = check_request(body, self.server.check_images)
        except ValueError as exc:
            self._json(400, {"error": {"message": f"bad request: {exc}"}})
            return
        server = self.server
        with server.lock:
            server.requests.append({"body": body if server.keep_bodies else None, "question": question,
                                    "images": images, "authorization": self.headers.get("Authorization")})
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            if server.delay_s:
                time.sleep(server.delay_s)
            self._act(server.next_action(question), body, question, images)
        finally:
            with server.lock:
                server.in_flight -= 1
                server.handler_s += time.perf_counter() - start

    def _act(self, action: str, body: dict, question: str, images: int) -> None:
        if action in ("429", "500", "503", "400"):
            headers = {"Retry-After": "0"} if action in ("429", "503") else {}
            message = "At most 2 image(s) may be provided in one request." if action == "400" else f"injected {action}"
            self._json(int(action), {"error": {"message": message}}, headers)
        elif action == "hang":
            time.sleep(self.server.hang_s)
            self.close_connection = True
        elif action == "drop":
            self.close_connection = True
        elif action == "garbage":
            self._stream([b"data: {this is not json\n\n"])
        elif action == "nochoice":
            self._stream([b'data: {"id": "x", "object": "chat.completion.chunk"}\n\n', b"data: [DONE]\n\n"])
        elif action == "loop":
            self._stream(self._loop_chunks())
        elif action == "slow":
            time.sleep(self.server.slow_s)
            self._stream(self._chunks(question, images, body))
        elif action == "forever":
            count = itertools.count(1)  # never the same text twice, so no repetition guard stops it
            self._stream(self._bounded(lambda: _event({"choices": [{"index": 0, "delta": {
                "content": f"{next(count) * 7919 % 1000003} "}}]})))
        elif action == "keepalive":
            self._stream(self._bounded(lambda: b": ping\n\n"))
        elif action == "longline":
            self._stream(itertools.chain([b"data: {\"x\": \""], self._bounded(lambda: b"y" * 65536)))
        elif action == "echo":
            echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
            self._json(500, {"error": {"message": f"upstream failed; request was:\n{echoed}"}})
        elif action == "hugebody":
            data = b"x" * self.server.huge_bytes
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        elif action == "json":
            self._json(200, self._completion(question, images))
        else:
            self._stream(self._chunks(question, images, body))

    def _completion(self, question: str, images: int) -> dict:
        thinking, answer = answer_for(question, images)
        message = {"role": "assistant", "content": f"<think>{thinking}</think>{answer}"}
        if self.server.think == "separate":
            message = {"role": "assistant", "content": answer, "reasoning_content": thinking}
        return {"id": "cmpl-1", "object": "chat.completion", "model": self.server.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100 + 630 * images, "completion_tokens": 20, "total_tokens": 120}}

    def _chunks(self, question: str, images: int, body: dict):
        thinking, answer = answer_for(question, images)
        pieces: list[tuple[str, str]] = []
        if self.server.think == "separate":
            pieces.append(("reasoning_content", thinking))
            text = answer
        else:
            text = f"<think>{thinking}</think>{answer}"
        n = max(1, self.server.chunks)
        step = -(-len(text) // n)
        pieces += [("content", text[i:i + step]) for i in range(0, len(text), step)]
        for key, value in pieces:
            yield _event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {key: value}}]})
        yield _event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if body.get("stream_options", {}).get("include_usage"):
            yield _event({"object": "chat.completion.chunk", "choices": [],
                          "usage": {"prompt_tokens": 100 + 630 * images, "completion_tokens": len(pieces)}})
        yield b"data: [DONE]\n\n"

    def _bounded(self, make):
        end = time.monotonic() + self.server.hostile_s
        while time.monotonic() < end:
            yield make()
            time.sleep(0.001)

    def _loop_chunks(self):
        for _ in range(self.server.loop_limit):
            yield _event({"choices": [{"index": 0, "delta": {"content": "all work and no play "}}]})
        yield _event({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        yield b"data: [DONE]\n\n"

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client hung up, as the repetition guard does


def _event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


if __name__ == "__main__":
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    srv = FakeServer(delay_s=delay)
    srv.keep_bodies = False
    srv.check_images = False
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
