"""llmcourse.multimodal: patches in F.unfold's order, the patch embedding as a strided conv,
CLIP's loss as Hugging Face computes it, and the LLaVA-style captioner's plumbing."""

import pytest
import torch
import torch.nn.functional as F
import transformers.models.clip.modeling_clip as hf_clip
from torch import nn

from llmcourse import multimodal as mm

torch.set_num_threads(1)
HF_LOSS = getattr(hf_clip, "image_text_contrastive_loss", None) or hf_clip.clip_loss  # transformers 5, else 4.x


@pytest.mark.parametrize("B, C, H, W, p", [(1, 1, 8, 8, 4), (2, 3, 4, 6, 2), (2, 2, 9, 6, 3), (1, 3, 32, 32, 16)])
def test_patchify_is_unfold_transposed(B, C, H, W, p):
    x = torch.randn(B, C, H, W)
    torch.testing.assert_close(mm.patchify(x, p), F.unfold(x, p, stride=p).transpose(1, 2))


@pytest.mark.parametrize("H, W, p", [(5, 4, 2), (4, 7, 2), (16, 16, 5)])
def test_patchify_rejects_sizes_that_are_not_multiples(H, W, p):
    with pytest.raises(ValueError, match="multiple"):
        mm.patchify(torch.zeros(1, 1, H, W), p)


def test_patch_embedding_equals_the_strided_convolution():
    embed = mm.PatchEmbedding(3, 4, 10)
    assert embed.proj.weight.shape == (10, 48) and embed.proj.bias is not None
    x = torch.randn(2, 3, 8, 12)
    conv = mm.as_conv2d(embed)
    torch.testing.assert_close(embed(x), conv(x).flatten(2).transpose(1, 2), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("N, D, t", [(1, 3, 1.0), (4, 8, 0.07), (16, 32, 0.5)])
def test_clip_loss_is_hugging_faces_on_the_normalised_logits(N, D, t):
    image, text = torch.randn(N, D, dtype=torch.float64) * 3, torch.randn(N, D, dtype=torch.float64)
    logits = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T / t
    torch.testing.assert_close(mm.clip_loss(image, text, t), HF_LOSS(logits))


def test_clip_loss_is_symmetric_in_its_inputs_and_low_for_matching_pairs():
    x = torch.randn(6, 16)
    assert torch.isclose(mm.clip_loss(x, x * 2, 0.05), mm.clip_loss(x * 2, x, 0.05))
    assert mm.clip_loss(x, x, 0.01) < 1e-3 < mm.clip_loss(x, torch.randn(6, 16), 0.01)


def test_digits_split_and_captions():
    tr, _, te, _ = mm.load_digits_split()
    assert tr.shape[1:] == (1, 8, 8) and len(tr) + len(te) == 1797 and 0 <= tr.min() and tr.max() <= 1
    assert mm.caption_of(7) == "the number seven"


def test_captioner_trains_only_the_connector_and_writes_captions():
    from llmcourse import models

    lm, tok = models.load("course-gpt", device="cpu")
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    cap = mm.DigitCaptioner(lm, tok)
    tr, ytr, te, yte = mm.load_digits_split()
    losses = mm.train_captioner(cap, tr, ytr, steps=3, batch_size=8, progress=False)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items()), "the language model stays frozen"
    assert not lm.training
    accuracy, captions = mm.caption_accuracy(cap, te[:5], yte[:5])
    assert len(captions) == 5 and all(c.startswith("the number") for c in captions) and 0 <= accuracy <= 1
    seven, zero = cap.caption_ids(torch.tensor([7, 0]))
    assert tok.decode(seven[:-1].tolist()) == " seven" and seven[-1] == cap.eos
    assert len(zero) == 4, '" z" "er" "o" <eos>'


def test_build_inputs_lays_out_image_prompt_caption_and_right_padding():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 5, dtype=torch.float64)
    projector, embed = nn.Linear(5, 4).double(), nn.Embedding(10, 4)
    prompts, captions = [torch.tensor([1, 2]), torch.tensor([3])], [torch.tensor([4]), torch.tensor([5, 6, 7])]
    inputs_embeds, attention_mask, labels = mm.build_inputs(features, projector, prompts, captions, embed)
    assert inputs_embeds.shape == (2, 7, 4) and inputs_embeds.dtype == torch.float32, "T = 3 + max(2 + 1, 1 + 3)"
    visual = projector(features).float()
    padded = torch.cat([visual[0], embed(torch.tensor([1, 2, 4])), torch.zeros(1, 4)])
    torch.testing.assert_close(inputs_embeds[0], padded)
    torch.testing.assert_close(inputs_embeds[1], torch.cat([visual[1], embed(torch.tensor([3, 5, 6, 7]))]))
    assert attention_mask.tolist() == [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1]]
    assert labels.tolist() == [[-100, -100, -100, -100, -100, 4, -100], [-100, -100, -100, -100, 5, 6, 7]]
    inputs_embeds.sum().backward()
    assert projector.weight.grad is not None and embed.weight.grad is not None


def test_the_captioners_loss_is_the_models_own_loss_with_these_labels():
    """The LM shifts the labels itself: the captioner's loss is GPT2LMHeadModel(..., labels=...).loss,
    over the caption's tokens only."""
    from llmcourse import models

    lm, tok = models.load("course-gpt", device="cpu")
    cap = mm.DigitCaptioner(lm, tok)
    tr, ytr, _, _ = mm.load_digits_split()
    images, digits = tr[:4], torch.tensor([7, 0, 1, 0])
    inputs_embeds, attention_mask, labels = cap._connect(images, cap.caption_ids(digits))
    assert (labels != -100).sum(1).tolist() == [2, 4, 2, 4], "the word and <eos>; zero is three pieces"
    with torch.no_grad():
        own = lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels).loss
        torch.testing.assert_close(cap.loss(images, digits), own)


def test_diagrams_draw():
    import matplotlib

    matplotlib.use("Agg")
    fig = mm.draw_connectors()
    assert len(fig.axes) == 4 and all(ax.get_title() for ax in fig.axes)
