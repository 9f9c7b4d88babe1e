"""llmcourse.losses against Hugging Face: GPT2LMHeadModel's own loss for labels=input_ids with
the padding labelled -100, on random models and inputs with left, right and scattered padding."""

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse.losses import IGNORE_INDEX, causal_lm_labels, causal_lm_loss, token_losses


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_gpt2(seed: int, vocab: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab, n_positions=32, n_embd=16, n_layer=1, n_head=2, initializer_range=0.5)
    return GPT2LMHeadModel(config).eval()


def padding_mask(kind: str, B: int, T: int, g: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    lengths[0] = T  # at least one full row
    positions = torch.arange(T)
    if kind == "right":
        return (positions[None, :] < lengths[:, None]).long()
    if kind == "left":
        return (positions[None, :] >= T - lengths[:, None]).long()
    mask = (torch.rand(B, T, generator=g) > 0.3).long()  # scattered holes, as packing can leave
    mask[:, -1] = 1
    return mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["none", "right", "left", "scattered"])
def test_equals_the_loss_gpt2lmheadmodel_returns(seed, kind):
    g = torch.Generator().manual_seed(seed)
    B, T, V = int(torch.randint(1, 5, (), generator=g)), int(torch.randint(2, 12, (), generator=g)), 37
    model = tiny_gpt2(seed, V)
    ids = torch.randint(V, (B, T), generator=g)
    mask = None if kind == "none" else padding_mask(kind, B, T, g)
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=causal_lm_labels(ids, mask))
    ours = causal_lm_loss(out.logits, ids, mask)
    assert ours.shape == () and ours.dtype == torch.float32
    torch.testing.assert_close(ours, out.loss, atol=1e-6, rtol=1e-6)


def test_random_logits_match_cross_entropy_with_ignore_index_and_backpropagate():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 7, 11, generator=g, dtype=torch.float64) * 3).requires_grad_()
    ids = torch.randint(11, (3, 7), generator=g)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [0] * 5 + [1] * 2])
    labels = causal_lm_labels(ids, mask)[:, 1:]
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    ours = causal_lm_loss(logits, ids, mask)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, expected)
    (grad,) = torch.autograd.grad(ours, logits)
    (grad_expected,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad, grad_expected)
    assert grad[:, -1].abs().sum() == 0, "the last position predicts nothing"


def test_token_losses_count_the_targets_not_the_inputs():
    logits = torch.zeros(1, 4, 5)
    ids = torch.tensor([[0, 1, 2, 3]])
    nll, counted = token_losses(logits, ids, torch.tensor([[0, 1, 1, 0]]))  # left and right padding
    # predictions at 0, 1, 2 target tokens 1, 2, 3: token 1 and 2 are real, token 3 is padding
    assert counted.tolist() == [[True, True, False]]
    torch.testing.assert_close(nll, torch.tensor([[1.0, 1.0, 0.0]]) * torch.log(torch.tensor(5.0)))


def test_bfloat16_logits_are_upcast_and_bad_shapes_raise():
    logits = torch.randn(2, 5, 9).to(torch.bfloat16)
    ids = torch.randint(9, (2, 5))
    assert causal_lm_loss(logits, ids).dtype == torch.float32
    torch.testing.assert_close(causal_lm_loss(logits, ids), causal_lm_loss(logits.float(), ids))
    with pytest.raises(ValueError, match="expected logits"):
        causal_lm_loss(logits[0], ids)
    with pytest.raises(ValueError, match="attention_mask"):
        causal_lm_loss(logits, ids, torch.ones(2, 4))
