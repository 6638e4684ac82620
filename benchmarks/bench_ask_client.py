"""The openai backend's client cost: overhead per request and requests/s at concurrency 1, 8, 64.

The local test server (tests/fake_openai_server.py) runs in its own process, so server work does not
share this process's GIL. Two payloads: one small page, and real pages rendered with the glyph preset
from glyph_cli/data/sample.txt (the request body Glyph's serving sees). Two server modes:

- instant replies: requests/s is bounded by client + server + loopback; the client's share is the
  wall time per request minus the server's own handler time (from its /v1/stats);
- replies delayed by DELAY seconds (a stand-in for generation): the ideal is concurrency / DELAY
  requests/s, and the efficiency (measured / ideal) shows whether the client keeps that many in flight.

Baseline, same process: a bare http.client loop posting the same prebuilt body on one keep-alive
connection and reading the same stream, at concurrency 1.

    python benchmarks/bench_ask_client.py [--requests 300] [--delay 0.2] [--pages 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import orjson  # noqa: E402

from glyph_cli.models.backend import Job, Sampling  # noqa: E402
from glyph_cli.models.openai_backend import OpenAIBackend, request_body  # noqa: E402
from glyph_cli.models.prompts import default_template  # noqa: E402


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai_server.py"), str(delay)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def stats(base_url: str) -> dict:
    conn = http.client.HTTPConnection(base_url.split("//")[1].split("/")[0])
    conn.request("GET", "/v1/stats")
    return json.loads(conn.getresponse().read())


def rendered_pages(n: int) -> list[str]:
    """Real glyph-preset pages of the sample text (repeated until there are n)."""
    from glyph_cli.streams.documents import Document
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.job import sample_path
    from glyph_cli.typeset.render import Renderer

    text = sample_path().read_text()
    renderer = Renderer(resolve_config("glyph"), count_tokens=len, tokenizer_name="chars",
                        page_tokens=lambda w, h: {})
    pages: list[str] = []
    while len(pages) < n:
        recs = list(renderer.render(Document("s", text * (1 + n))))
        pages += [r["image"] for r in recs[1:]]
    return pages[:n]


def small_page() -> list[str]:
    import io

    from PIL import Image

    from glyph_cli.streams.pages import png_data_url

    buf = io.BytesIO()
    Image.new("L", (56, 84), 255).save(buf, "PNG")
    return [png_data_url(buf.getvalue())]


def jobs(images: list[str], n: int) -> list[Job]:
    template = default_template(False)
    return [Job(i, f"q{i}", "doc", f"Question {i}?", template.parts(f"Question {i}?", images=images), "pages",
                len(images)) for i in range(n)]


def run_glyph_client(base_url: str, images: list[str], n: int, concurrency: int) -> dict:
    backend = OpenAIBackend(base_url, "fake-glyph", sampling=Sampling(), concurrency=concurrency)
    work = jobs(images, n)
    list(backend.generate(work[:concurrency]))  # warm: connections open
    before = stats(base_url)
    start, cpu = time.perf_counter(), time.process_time()
    results = list(backend.generate(work, ordered=True))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = stats(base_url)
    failures = [r for _, r in results if isinstance(r, Exception)]
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed: {failures[0]}")
    latencies = [r.latency_s for _, r in results]
    return {"wall": wall, "rps": n / wall, "lat_mean": statistics.mean(latencies), "cpu": cpu / n,
            "server_s": (after["handler_s"] - before["handler_s"]) / n, "max_in_flight": after["max_in_flight"]}


def run_bare_client(base_url: str, images: list[str], n: int) -> tuple[float, float]:
    """(wall, CPU) seconds per request of a bare http.client loop: the floor for any client."""
    host = base_url.split("//")[1].split("/")[0]
    body = orjson.dumps(request_body("fake-glyph", default_template(False).parts("Q?", images=images), Sampling()))
    conn = http.client.HTTPConnection(host)
    headers = {"Content-Type": "application/json"}
    for _ in range(5):
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        conn.getresponse().read()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        conn.getresponse().read()
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--delay", type=float, default=0.2, help="simulated generation time per request")
    ap.add_argument("--pages", type=int, default=8, help="pages per request in the realistic payload")
    args = ap.parse_args()

    payloads = {"1 tiny page": small_page(), f"{args.pages} glyph pages": rendered_pages(args.pages)}
    for name, images in payloads.items():
        size = len(orjson.dumps(request_body("fake-glyph", default_template(False).parts("Q?", images=images),
                                             Sampling())))
        body_s = min(_time(lambda: orjson.dumps(request_body("m", default_template(False).parts("Q?", images=images),
                                                               Sampling()))) for _ in range(5))
        print(f"\n== payload: {name}, request body {size / 1024:.0f} KiB (built and encoded in {body_s * 1e3:.2f} ms)")
        server, url = start_server(0.0)
        try:
            # the shared machine is noisy: the better of a measurement before and after glyph's runs
            bare = run_bare_client(url, images, args.requests)
            rows = [(c, run_glyph_client(url, images, args.requests, c)) for c in (1, 8, 64)]
            bare = min(bare, run_bare_client(url, images, args.requests))
        finally:
            server.terminate()
            server.wait()
        print(f"bare http.client loop, concurrency 1: {bare[0] * 1e3:.2f} ms/request wall "
              f"({1 / bare[0]:.0f} req/s), {bare[1] * 1e3:.2f} ms CPU/request")
        print(f"{'conc':>5} {'req/s':>8} {'wall ms/req':>12} {'server ms':>10} {'client CPU ms':>14} "
              f"{'CPU vs bare':>12} {'max in flight':>14}")
        for c, r in rows:
            print(f"{c:>5} {r['rps']:>8.0f} {r['wall'] / args.requests * 1e3:>12.2f} {r['server_s'] * 1e3:>10.2f} "
                  f"{r['cpu'] * 1e3:>14.2f} {r['cpu'] / bare[1]:>11.2f}x {r['max_in_flight']:>14}")

    print(f"\n== concurrency with replies delayed {args.delay} s (ideal req/s = concurrency / delay)")
    server, url = start_server(args.delay)
    try:
        print(f"{'payload':>16} {'conc':>5} {'req/s':>8} {'ideal':>8} {'efficiency':>10} {'max in flight':>14}")
        for name, images in payloads.items():
            for c in (1, 8, 64):
                n = 20 if c == 1 else 6 * c
                r = run_glyph_client(url, images, n, c)
                ideal = c / args.delay
                print(f"{name:>16} {c:>5} {r['rps']:>8.1f} {ideal:>8.1f} {r['rps'] / ideal:>10.2f} "
                      f"{r['max_in_flight']:>14}")
    finally:
        server.terminate()
        server.wait()


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
