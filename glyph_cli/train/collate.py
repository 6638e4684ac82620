"""Examples -> model inputs, with the prompt `glyph ask` sends and labels on the target alone.

The prompt is built as the transformers backend builds it (the chat message from
glyph_cli.models.prompts.chat_messages, the model's chat template with the generation prompt, the
processor with `add_special_tokens=False`), so training and `glyph ask` see the same tokens. The target's tokens
and one end-of-turn token follow; every prompt position, image placeholders included, is masked
out of the loss (-100). Rows are padded on the left; `mm_token_type_ids` (which transformers 5
requires whenever images are present) is kept and padded like the ids.
"""

from __future__ import annotations

import json

from glyph_cli.errors import ConfigError, GlyphError
from glyph_cli.models.prompts import Part, chat_messages

IGNORE = -100


def row_parts(row: dict) -> list[Part]:
    parts = json.loads(row["parts"]) if isinstance(row["parts"], str) else row["parts"]
    return [Part(p["kind"], p["value"]) for p in parts]


def prompt_text(processor, parts: list[Part]) -> str:
    return processor.apply_chat_template(chat_messages(parts, "placeholder"),
                                         add_generation_prompt=True, tokenize=False)


def chat_prompt(parts: list[Part]) -> list[dict]:
    """The user turn as a conversational prompt (for GRPO: trl fills the image placeholders)."""
    return chat_messages(parts, "placeholder")


def end_token_id(processor, end_token: str | None) -> int:
    tok = processor.tokenizer
    name = end_token or tok.eos_token
    if name is None:
        raise ConfigError("the tokenizer has no eos token", "set end_token in the run config")
    token_id = tok.convert_tokens_to_ids(name)
    if token_id is None or token_id == tok.unk_token_id:
        raise ConfigError(f"end_token {name!r} is not a token of this tokenizer")
    return token_id


class Collator:
    def __init__(self, processor, end_token: str | None = None, max_length: int | None = None):
        self.processor = processor
        self.end_id = end_token_id(processor, end_token)
        self.max_length = max_length

    def encode(self, row: dict) -> dict:
        import torch

        images = [im.convert("RGB") for im in row.get("images") or []]
        text = prompt_text(self.processor, row_parts(row))
        prompt = self.processor(text=[text], images=images or None, return_tensors="pt", add_special_tokens=False)
        target = self.processor.tokenizer(row["target"], add_special_tokens=False)["input_ids"] + [self.end_id]
        ids = prompt["input_ids"][0]
        n = ids.shape[0]
        target = torch.tensor(target, dtype=ids.dtype)
        out = {
            "input_ids": torch.cat([ids, target]),
            "labels": torch.cat([torch.full((n,), IGNORE, dtype=ids.dtype), target]),
        }
        if "mm_token_type_ids" in prompt:
            out["mm_token_type_ids"] = torch.cat([prompt["mm_token_type_ids"][0], torch.zeros_like(target)])
        for key in ("pixel_values", "image_grid_thw"):
            if key in prompt:
                out[key] = prompt[key]
        length = out["input_ids"].shape[0]
        if self.max_length is not None and length > self.max_length:
            raise GlyphError(f"example {row.get('id')!r} is {length} tokens, over max_length {self.max_length}",
                             "raise max_length (cutting it would cut image tokens), or render at a lower dpi")
        return out

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        encoded = [self.encode(r) for r in rows]
        width = max(e["input_ids"].shape[0] for e in encoded)
        pad = self.processor.tokenizer.pad_token_id
        pad = self.end_id if pad is None else pad

        def left(t, value):
            return torch.cat([torch.full((width - t.shape[0],), value, dtype=t.dtype), t])

        batch = {
            "input_ids": torch.stack([left(e["input_ids"], pad) for e in encoded]),
            "labels": torch.stack([left(e["labels"], IGNORE) for e in encoded]),
            "attention_mask": torch.stack([left(torch.ones_like(e["input_ids"]), 0) for e in encoded]),
        }
        if any("mm_token_type_ids" in e for e in encoded):
            batch["mm_token_type_ids"] = torch.stack([left(e["mm_token_type_ids"], 0) for e in encoded])
        for key in ("pixel_values", "image_grid_thw"):
            parts = [e[key] for e in encoded if key in e]
            if parts:
                batch[key] = torch.cat(parts)
        return batch
