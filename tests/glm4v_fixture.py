"""A tiny GLM-4.1V (the architecture of zai-org/Glyph) built offline, in the released directory layout.

The tokenizer is byte-level BPE without merges (one token per UTF-8 byte, so any text encodes)
plus GLM-4.1V's special tokens, prefixing [gMASK]<sop> when asked to add special tokens; the chat template follows GLM-4.1V's. Files written match the
zai-org/Glyph repository: config.json, generation_config.json, model.safetensors,
preprocessor_config.json (no video processor config), tokenizer.json, tokenizer_config.json,
chat_template.jinja. Used by the tests and by benchmarks/bench_ask_gpu.py.
"""

from __future__ import annotations

import json
from pathlib import Path

# GLM-4.1V's special tokens. <think> and the answer markers are ordinary added tokens there, so a
# decode that skips special tokens keeps them.
SPECIAL = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
           "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
           "<|end_of_video|>", "<|image|>", "<|video|>", "<|begin_of_box|>", "<|end_of_box|>"]
ADDED = ["<think>", "</think>", "<answer>", "</answer>", "/nothink"]

CHAT_TEMPLATE = """[gMASK]<sop>
{%- for msg in messages %}
{%- if msg.role == 'system' %}
<|system|>
{{ msg.content }}
{%- elif msg.role == 'user' %}
<|user|>{{ '\\n' }}
{%- if msg.content is string %}
{{- msg.content }}
{%- else %}
{%- for item in msg.content %}
{%- if item.type == 'video' or 'video' in item %}
<|begin_of_video|><|video|><|end_of_video|>
{%- elif item.type == 'image' or 'image' in item %}
<|begin_of_image|><|image|><|end_of_image|>
{%- elif item.type == 'text' %}
{{- item.text }}
{%- endif %}
{%- endfor %}
{%- endif %}
{%- elif msg.role == 'assistant' %}
<|assistant|>
{{ msg.content }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|assistant|>
{% endif %}"""

# zai-org/Glyph's preprocessor_config.json, as released.
PREPROCESSOR = {
    "size": {"shortest_edge": 12544, "longest_edge": 9633792},
    "do_rescale": True,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Glm4vImageProcessor",
    "processor_class": "Glm4vProcessor",
}

TINY_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=8192,
                 # head_dim 16, half of it rotary: 4 frequencies split over (t, h, w) like GLM-4.1V's 8/12/12 of 32
                 rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                                  "mrope_section": [2, 1, 1]})
TINY_VISION = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, image_size=56, patch_size=14,
                   spatial_merge_size=2, temporal_patch_size=2)


def byte_tokenizer():
    """A PreTrainedTokenizerFast: byte-level, no merges, GLM-4.1V's special tokens after the 256 bytes."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED])
    # Asked to add special tokens, it prefixes [gMASK]<sop> as a GLM base-model tokenizer may; the
    # chat template writes them already, so a backend that lets the tokenizer add them counts double.
    tok.post_processor = processors.TemplateProcessing(
        single="[gMASK] <sop> $A", special_tokens=[(t, tok.token_to_id(t)) for t in ("[gMASK]", "<sop>")])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   padding_side="left")


def glm4v_config(tokenizer, text: dict | None = None, vision: dict | None = None):
    """A Glm4vConfig whose token ids are the tokenizer's. `text`/`vision` None: GLM-4.1V-9B's sizes."""
    from transformers import Glm4vConfig

    ids = tokenizer.convert_tokens_to_ids
    text_config = dict(text or {}, vocab_size=len(tokenizer), pad_token_id=ids("<|endoftext|>"))
    vision_config = dict(vision or {})
    if text is not None:
        vision_config.setdefault("out_hidden_size", text_config["hidden_size"])
    return Glm4vConfig(text_config=text_config, vision_config=vision_config,
                       image_token_id=ids("<|image|>"), video_token_id=ids("<|video|>"),
                       image_start_token_id=ids("<|begin_of_image|>"), image_end_token_id=ids("<|end_of_image|>"),
                       video_start_token_id=ids("<|begin_of_video|>"), video_end_token_id=ids("<|end_of_video|>"))


def generation_config(tokenizer):
    from transformers import GenerationConfig

    ids = tokenizer.convert_tokens_to_ids
    # GLM-4.1V ends a turn at <|endoftext|>, or when it starts the next <|user|> or <|observation|>.
    return GenerationConfig(eos_token_id=[ids("<|endoftext|>"), ids("<|user|>"), ids("<|observation|>")],
                            pad_token_id=ids("<|endoftext|>"))


def build_glm4v_dir(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny random GLM-4.1V model directory laid out like zai-org/Glyph."""
    import torch
    from transformers import Glm4vForConditionalGeneration

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_tokenizer()
    tokenizer.save_pretrained(out)
    torch.manual_seed(seed)
    model = Glm4vForConditionalGeneration(glm4v_config(tokenizer, TINY_TEXT, TINY_VISION))
    model.generation_config = generation_config(tokenizer)
    model.save_pretrained(out)
    (out / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2) + "\n")
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return out
