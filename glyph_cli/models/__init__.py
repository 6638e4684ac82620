"""Asking a vision-language model about rendered pages.

One `Backend` interface (backend.py) with two implementations: a local transformers model
(transformers_backend.py) and any OpenAI-compatible chat server such as vLLM or SGLang
(openai_backend.py). Prompt building (prompts.py), splitting the thinking block from the answer
(parse.py) and the runaway-repetition guard (repetition.py) are shared by both, so the two backends
produce the same records. `ask.py` pairs questions with documents and runs a backend over them.

Nothing here imports torch or transformers at module level.
"""
