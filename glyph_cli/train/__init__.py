"""`glyph train`: Glyph's continual pre-training and post-training on glyph's own bundles.

Modules by concern: `styles` (seeded render configs for --style-sampling), `data` (training
examples cut from pages' exact spans), `writer` (the dataset on disk), `runconfig` (run configs),
`collate` (prompts as `glyph ask` sends them, labels masked), `stages` (pretrain / sft / grpo on
transformers' Trainer and trl's GRPOTrainer), `rewards`, `export`. Nothing heavy is imported here.
"""

import os


def quiet_hub() -> None:
    """Training never talks to the hub: no telemetry, no downloads (models are local directories)."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
