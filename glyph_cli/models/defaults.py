"""Defaults the command line shows without loading a backend (`glyph --help` pays for no HTTP client)."""

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # an OpenAI-compatible server (vLLM's default port)
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
