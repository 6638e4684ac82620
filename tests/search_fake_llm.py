"""A local OpenAI-compatible server standing in for the LLM proposer (stdlib only, 127.0.0.1 only).

Each chat completion request is answered with the next reply of a script (one JSON body, not a
stream); when the script runs out, the last reply repeats. The prompts it received are kept.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLlm(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies: list[str]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def next_reply(self) -> str:
        with self.lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def __enter__(self) -> "FakeLlm":
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send({"data": [{"id": "fake-llm"}]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.prompts.append(request["messages"][0]["content"][0]["text"])
        self._send({"choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": self.server.next_reply()}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
