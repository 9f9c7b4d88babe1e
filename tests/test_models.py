"""The bundled checkpoint: loads offline in Hugging Face form, equals the course's GPT,
and reproduces the figures its model card states."""

import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel, pipeline

from llmcourse import data, models, train
from llmcourse.gpt import from_hf, generate

PATH = models.path_of("course-gpt")
METRICS = json.loads((PATH / "metrics.json").read_text())


@pytest.fixture(scope="module")
def loaded():
    return models.load("course-gpt", device="cpu")


def test_loads_offline_in_hugging_face_form(loaded):
    model, tokenizer = loaded
    assert isinstance(model, GPT2LMHeadModel) and not model.training
    assert tokenizer.eos_token == data.EOT
    text = "Once upon a time, there was a little rabbit."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_plain_transformers_can_use_the_folder():
    model = AutoModelForCausalLM.from_pretrained(PATH)
    tokenizer = AutoTokenizer.from_pretrained(PATH)
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    out = generator("Question: What is 2 plus 3?\nAnswer:", max_new_tokens=8, do_sample=False)[0]["generated_text"]
    assert out.startswith("Question: What is 2 plus 3?\nAnswer:") and len(out) > 40


def test_checkpoint_is_small():
    size = sum(p.stat().st_size for p in PATH.iterdir())
    assert size < 25 * 2**20, f"{size / 2**20:.1f} MB"


def test_course_gpt_equals_hugging_face_on_the_checkpoint(loaded):
    model, tokenizer = loaded
    ours = from_hf(model).eval()
    g = torch.Generator().manual_seed(0)
    for B, T in [(1, 1), (2, 37), (3, 200)]:
        idx = torch.randint(model.config.vocab_size, (B, T), generator=g)
        with torch.no_grad():
            diff = (ours(idx)[0] - model(idx).logits).abs().max().item()
        assert diff < 1e-5 * max(1.0, model(idx).logits.abs().max().item()), f"B={B}, T={T}: max diff {diff}"
    prompt = tokenizer(["Lucy: Good morning, Tom!\nTom:", "Dear diary, today I"], return_tensors="pt", padding=True)[
        "input_ids"
    ][:, :6]
    hf_out = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=40,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert torch.equal(generate(ours, prompt, 40), hf_out)


def test_checkpoint_reproduces_its_model_card(loaded):
    model, tokenizer = loaded
    ce = train.document_cross_entropy(
        model, lambda t: tokenizer(t)["input_ids"], data.load_corpus("validation"), tokenizer.eos_token_id
    )
    assert ce == pytest.approx(METRICS["validation_cross_entropy"], rel=1e-4), (ce, METRICS["validation_cross_entropy"])
    floor = data.entropy_floor(data.load_corpus("validation"), lambda t: len(tokenizer(t)["input_ids"]))
    assert floor == pytest.approx(METRICS["entropy_floor"], rel=1e-9)
    card = (PATH / "README.md").read_text()
    assert f"{ce:.4f}" in card and f"{math.exp(ce):.3f}" in card and f"{floor:.4f}" in card


def test_hub_model_without_network_names_the_offline_default():
    with pytest.raises(RuntimeError, match="course-gpt"):
        models.load("gpt2")


def test_unknown_bundled_name():
    with pytest.raises(KeyError, match="bundled"):
        models.path_of("no-such-model")
