"""llmcourse.lora: the LoRA layer against peft's, merging, and LoRA on the course GPT."""

import pytest
import torch
from torch import nn

from llmcourse import lora
from llmcourse.gpt import GPT, GPTConfig


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_starts_as_the_base_layer_with_only_A_and_B_trainable():
    base = nn.Linear(6, 4)
    layer = lora.LoRALinear(base, r=2, alpha=8)
    x = torch.randn(3, 6)
    assert torch.equal(layer(x), base(x))
    assert layer.A.shape == (2, 6) and layer.B.shape == (4, 2) and torch.all(layer.B == 0)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["A", "B"]
    assert layer.scaling == 4


def test_equals_peft_and_merges():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    holder = nn.Sequential(nn.Linear(8, 5))
    base = nn.Linear(8, 5)
    base.load_state_dict(holder[0].state_dict())
    ours = lora.LoRALinear(base, r=3, alpha=6)
    theirs = get_peft_model(holder, LoraConfig(r=3, lora_alpha=6, target_modules=["0"], lora_dropout=0.0))
    with torch.no_grad():
        ours.B.normal_()
        layer = theirs.base_model.model[0]
        layer.lora_A["default"].weight.copy_(ours.A)
        layer.lora_B["default"].weight.copy_(ours.B)
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
        merged = ours.merge()
        assert type(merged) is nn.Linear
        torch.testing.assert_close(merged(x), ours(x))


def test_apply_and_merge_on_the_course_gpt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=32, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(32, (2, 7))
    before = model(idx)[0]
    lora.apply_lora(model, r=2, alpha=4)
    trainable, total = lora.count_parameters(model)
    assert trainable == sum(m.A.numel() + m.B.numel() for m in model.modules() if isinstance(m, lora.LoRALinear)) > 0
    assert trainable < total / 5
    torch.testing.assert_close(model(idx)[0], before)  # B = 0: unchanged at the start
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, lora.LoRALinear):
                m.B.normal_(std=0.1)
    adapted = model(idx)[0]
    assert not torch.allclose(adapted, before)
    lora.merge_lora(model)
    assert not any(isinstance(m, lora.LoRALinear) for m in model.modules())
    torch.testing.assert_close(model(idx)[0], adapted, atol=1e-5, rtol=1e-5)


def test_rejects_what_is_not_a_linear_layer():
    with pytest.raises(TypeError):
        lora.LoRALinear(nn.Conv1d(2, 2, 1), r=1, alpha=1)
    with pytest.raises(ValueError):
        lora.LoRALinear(nn.Linear(2, 2), r=0, alpha=1)
