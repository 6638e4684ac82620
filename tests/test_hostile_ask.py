"""Hostile OpenAI-compatible servers: `glyph ask` gives up on each, in bounded time and memory,
and never shows the API key or a whole huge error body."""

from __future__ import annotations

import os
import time

import pytest

from fake_openai_server import FakeServer
from glyph_cli.errors import GlyphError
from glyph_cli.models.ask import ask, cli_questions
from glyph_cli.models.backend import Sampling
from glyph_cli.models.openai_backend import OpenAIBackend
from page_streams import documents

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture
def server():
    srv = FakeServer().start()
    srv.hostile_s = 20.0  # the server stops on its own long after the client should have
    yield srv
    srv.stop()


def ask_one(srv, action, monkeypatch, **kwargs):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    srv.plan("Q?", action)
    kwargs.setdefault("timeout", 1.0)
    backend = OpenAIBackend(srv.base_url, model="m", retries=0, backoff=0.01, **kwargs)
    start = time.monotonic()
    recs = list(ask(documents([("a", "Alpha.", 1)]), backend, cli_questions(["Q?"]), policy=None))
    return recs, time.monotonic() - start


@pytest.mark.parametrize("action", ["forever", "keepalive", "longline"])
def test_endless_replies_end(server, monkeypatch, action):
    try:
        recs, seconds = ask_one(server, action, monkeypatch)
    except GlyphError as exc:
        message = str(exc)
    else:
        message = str(recs)
    # the server would go on for 20 s; the client's 1 s deadline (or its token cap) stops it
    assert "deadline" in message or "over" in message or "length" in message, message


def test_token_cap_stops_a_server_ignoring_max_tokens(server, monkeypatch):
    recs, _ = ask_one(server, "forever", monkeypatch, timeout=30.0, sampling=Sampling(max_new_tokens=50))
    assert recs[0]["finish"] == "length"


def test_api_key_is_redacted(server, monkeypatch):
    with pytest.raises(GlyphError) as info:
        ask_one(server, "echo", monkeypatch)
    assert KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


def test_huge_error_body_is_cut(server, monkeypatch):
    with pytest.raises(GlyphError) as info:
        ask_one(server, "hugebody", monkeypatch)
    assert len(str(info.value)) < 2000
