"""pretrain / sft / grpo on a tiny random GLM-4.1V, in process, a few steps each."""

from __future__ import annotations

import json

import pytest

from glm4v_fixture import build_glm4v_dir
from glyph_cli.models.ask import Question
from glyph_cli.train import quiet_hub
from train_kit import PROSE, losses, make_set, metrics, rendered

quiet_hub()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_glm4v_dir(tmp_path_factory.mktemp("tiny-glm"))


@pytest.fixture(scope="module")
def ocr_set(tmp_path_factory):
    pairs = rendered([(f"d{i}", f"Note {i}: {word}.") for i, word in enumerate(["fox", "owl", "elk", "yak"])])
    return make_set(tmp_path_factory.mktemp("sets") / "ocr", pairs, tasks=("ocr",))


def run_cfg(stage, model_dir, data, out, extra=(), **training):
    from glyph_cli.train.runconfig import load_run_config

    sets = [f"model={model_dir}", f"data={data}", f"output_dir={out}", "device=cpu",
            "training.gradient_accumulation_steps=1", "training.logging_steps=1", *extra]
    sets += [f"training.{k}={v}" for k, v in training.items()]
    return load_run_config(stage, None, sets)


def test_labels_supervise_only_the_target_and_end_token_after_asks_prompt(model_dir, ocr_set, tmp_path):
    from glyph_cli.models.backend import Job
    from glyph_cli.models.transformers_backend import TransformersBackend, load_processor
    from glyph_cli.streams.pages import png_data_url
    from glyph_cli.train.collate import IGNORE, Collator, row_parts
    from glyph_cli.train.writer import load_dataset

    processor = load_processor(model_dir)
    row = load_dataset(ocr_set, cache_dir=tmp_path)[0]
    enc = Collator(processor).encode(row)
    tok = processor.tokenizer
    supervised = enc["labels"][enc["labels"] != IGNORE].tolist()
    assert supervised == tok(row["target"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    n_prompt = int((enc["labels"] == IGNORE).sum())
    assert enc["labels"][:n_prompt].eq(IGNORE).all()  # the prompt comes first and is masked whole
    image_id = tok.convert_tokens_to_ids("<|image|>")
    assert int((enc["input_ids"] == image_id).sum()) > 0
    assert not (enc["input_ids"][n_prompt:] == image_id).any()
    # the prompt is token for token what glyph ask sends for the same page and question
    import io

    buf = io.BytesIO()
    row["images"][0].save(buf, format="PNG")
    parts = [p if p.kind == "text" else type(p)("image", png_data_url(buf.getvalue())) for p in row_parts(row)]
    backend = TransformersBackend.load(model_dir, device="cpu")
    asked = backend._inputs([Job(0, "q", row["doc"], "", parts, "pages", 1)])
    assert asked["input_ids"][0].tolist() == enc["input_ids"][:n_prompt].tolist()


@pytest.mark.slow
def test_ocr_pretraining_halves_the_loss(model_dir, ocr_set, tmp_path):
    from glyph_cli.train.stages import run_stage

    cfg = run_cfg("pretrain", model_dir, ocr_set, tmp_path / "run", max_steps=30, learning_rate=0.003,
                  per_device_train_batch_size=4, save_steps=1000, lr_scheduler_type="constant")
    summary = run_stage(cfg)
    by_step = losses(tmp_path / "run")
    assert summary["step"] == 30
    assert by_step[30] < by_step[1] / 2, by_step
    saved = json.loads((tmp_path / "run" / "final" / "glyph_train_config.json").read_text())
    assert saved["training"]["max_steps"] == 30


@pytest.mark.slow
def test_the_answer_follows_the_page_image_above_chance(model_dir, tmp_path):
    """Same question, same text: only the page's look (dark vs document theme) tells the answer."""
    import torch

    from glyph_cli.models.transformers_backend import load_processor
    from glyph_cli.train.collate import Collator
    from glyph_cli.train.stages import run_stage
    from glyph_cli.train.writer import load_dataset
    from transformers import AutoModelForImageTextToText

    text = PROSE
    pairs = rendered([("dark", text)], theme="dark") + rendered([("light", text)], theme="document")
    qs = [Question(d, "Which theme?", d, {"answer": d}, "qa", i) for i, d in enumerate(["dark", "light"])]
    data = make_set(tmp_path / "set", pairs, tasks=("instruct",), questions=qs)
    cfg = run_cfg("sft", model_dir, data, tmp_path / "run", max_steps=40, learning_rate=0.003, min_lr=0.0,
                  per_device_train_batch_size=2, save_steps=1000)
    run_stage(cfg)
    processor = load_processor(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "run" / "final").eval()
    collate = Collator(processor)
    correct = 0
    for row in load_dataset(data, cache_dir=tmp_path / "cache"):
        other = "light" if row["target"] == "dark" else "dark"
        with torch.no_grad():
            right = model(**collate([row])).loss.item()
            wrong = model(**collate([{**row, "target": other}])).loss.item()
        correct += right < wrong
    assert correct == 2  # chance is 1 of 2


def test_sft_with_the_ocr_mix_and_lora_touches_only_the_language_model(model_dir, tmp_path):
    from safetensors.torch import load_file

    from glyph_cli.train.stages import run_stage

    pairs = rendered([("a", PROSE)])
    qs = [Question(f"q{i}", f"Q{i}?", "a", {"answer": f"A{i}"}, "qa", i) for i in range(3)]
    data = make_set(tmp_path / "set", pairs, tasks=("instruct",), questions=qs, ocr_ratio=0.25)
    cfg = run_cfg("sft", model_dir, data, tmp_path / "run", max_steps=3, per_device_train_batch_size=2,
                  save_steps=1000)
    cfg["finetune"] = "lora"
    cfg["freeze_vision"] = False  # even with the tower unfrozen, LoRA targets the language model alone
    cfg["gradient_checkpointing"] = True
    run_stage(cfg)
    adapter = load_file(tmp_path / "run" / "final" / "adapter_model.safetensors")
    assert adapter and all(".language_model.layers." in k for k in adapter)
    # lora_B starts at zero: non-zero means gradients flowed through the checkpointed layers
    assert all(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
    kinds = {k.split(".")[-3] for k in adapter}
    assert kinds == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"}
    assert json.loads((data / "manifest.json").read_text())["counts"]["ocr"] == 1


def test_resume_continues_at_the_same_step_with_the_same_losses(model_dir, ocr_set, tmp_path):
    import shutil

    from glyph_cli.errors import UsageError
    from glyph_cli.train.stages import run_stage

    full = run_cfg("pretrain", model_dir, ocr_set, tmp_path / "full", max_steps=4, save_steps=2,
                   learning_rate=0.001, per_device_train_batch_size=1)
    run_stage(full)
    from safetensors.torch import load_file

    base, trained = load_file(model_dir / "model.safetensors"), load_file(tmp_path / "full" / "final" / "model.safetensors")
    vision = [k for k in base if ".visual." in f".{k}"]
    assert vision and all(base[k].equal(trained[k]) for k in vision)  # the vision tower is frozen by default
    assert any(not base[k].equal(trained[k]) for k in base if "language_model" in k)
    # a run that stopped after its checkpoint at step 2
    part = tmp_path / "part"
    part.mkdir()
    shutil.copytree(tmp_path / "full" / "checkpoint-2", part / "checkpoint-2")
    cfg = {**full, "output_dir": str(part)}
    with pytest.raises(UsageError, match="--resume"):
        run_stage(cfg)
    with pytest.raises(UsageError, match="learning_rate"):
        run_stage({**cfg, "training": {**cfg["training"], "learning_rate": 0.01}}, resume=True)
    summary = run_stage(cfg, resume=True)
    assert summary["step"] == 4
    resumed = losses(part)
    assert sorted(resumed) == [3, 4]
    expected = losses(tmp_path / "full")
    assert resumed == pytest.approx({3: expected[3], 4: expected[4]}, rel=1e-5)


def test_grpo_drops_groups_whose_rewards_are_all_equal(model_dir, tmp_path, monkeypatch):
    import torch

    from glyph_cli.train import stages

    pairs = rendered([("a", PROSE)])
    # an untrained model never answers exactly: instruct groups score all 0; OCR groups score edit
    # distances, which differ between samples
    qs = [Question(f"q{i}", f"Q{i}?", "a", {"answer": f"an unlikely answer {i}"}, "qa", i) for i in range(2)]
    data = make_set(tmp_path / "set", pairs, tasks=("instruct",), questions=qs, ocr_ratio=0.5)
    seen = []
    make_class = stages._drop_trainer_class

    def recording_class():
        class Recording(make_class()):
            def _generate_and_score_completions(self, inputs):
                out = super()._generate_and_score_completions(inputs)
                seen.append(([x["task"] for x in inputs], self._glyph_rewards.nansum(dim=1).clone(),
                             out["completion_mask"].clone(), out["num_items_in_batch"].clone()))
                return out

        return Recording

    monkeypatch.setattr(stages, "_drop_trainer_class", recording_class)
    extra = ["grpo.num_generations=2", "grpo.max_completion_length=6", "grpo.beta=0.5", "grpo.rewards.format=0"]
    cfg = run_cfg("grpo", model_dir, data, tmp_path / "run", extra, max_steps=2, per_device_train_batch_size=4,
                  save_steps=1000, learning_rate=0.01)
    assert stages.run_stage(cfg)["step"] == 2
    logged = [m for m in metrics(tmp_path / "run") if "loss" in m]
    assert len(seen) == 2 and [m["groups"] for m in logged] == [2.0, 2.0]
    dropped_total = 0
    for (tasks, rewards, mask, items), m in zip(seen, logged):
        groups = rewards.view(-1, 2)
        equal = groups[:, 0] == groups[:, 1]
        assert m["dropped_groups"] == float(equal.sum())
        for g, is_equal in enumerate(equal.tolist()):
            rows = mask[2 * g:2 * g + 2]
            assert (rows.sum() == 0) == is_equal  # a dropped group has no token left in the loss
            if tasks[2 * g] == "instruct":
                assert is_equal
        assert int(items) == int(mask.sum())  # the normaliser counts kept tokens only
        dropped_total += int(equal.sum())
    assert dropped_total >= 1 and torch.isfinite(torch.tensor([m["loss"] for m in logged])).all()
