"""Chapter 08's checks in the student's kernel: messages that name the mistake, forbidden routes
caught, a trusted patchify for PatchEmbedding, and oracles that agree with the libraries."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmcourse import multimodal as reference
from llmcourse.grading import GradingError, ch08
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import check, mistake_answer

torch.set_num_threads(1)
ALTERNATIVE_CODE = alternatives_of("08_multimodal")  # autograde/alternatives/: valid answers, never shipped to students
CHECKS = {
    "patchify": ch08.check_patchify,
    "patch_embedding": ch08.check_patch_embedding,
    "clip_loss": ch08.check_clip_loss,
    "build_inputs": ch08.check_build_inputs,
}


def answer(exercise, code, **extra):
    namespace = dict(extra)
    exec(code, namespace)  # noqa: S102 - the course's own answers
    return namespace[exercise.name]


@pytest.mark.parametrize(
    "key, mistake", [(k, m) for k, ex in ch08.EXERCISES.items() for m in ex.mistakes], ids=lambda x: getattr(x, "id", x)
)
def test_visible_feedback_names_the_likely_mistake(key, mistake):
    with pytest.raises(GradingError) as failure:
        CHECKS[key](mistake_answer(ch08.EXERCISES[key], mistake))
    assert mistake.message in str(failure.value)


@pytest.mark.parametrize("key", list(ch08.EXERCISES))
def test_alternatives_get_full_marks_with_hidden_cases(key):
    exercise = ch08.EXERCISES[key]
    for code in ALTERNATIVE_CODE[key]:
        outcome = check(exercise, answer(exercise, code, patchify=reference.patchify), hidden=True, quiet=True)
        assert outcome.score == exercise.points


def test_messages_say_the_inputs_and_the_values():
    wrong = mistake_answer(ch08.PATCHIFY, next(m for m in ch08.PATCHIFY.mistakes if m.id == "column_order"))
    with pytest.raises(GradingError) as failure:
        ch08.check_patchify(wrong)
    text = str(failure.value)
    assert "images (2, 1, 4, 6), patch_size=2" in text and "at index (" in text and "expected" in text


@pytest.mark.parametrize(
    "key, mistake_id, failed",
    [
        ("patchify", "no_error", 1),
        ("patchify", "transposed", 2),
        ("clip_loss", "detached", 1),
        ("clip_loss", "times_temperature", 2),
        ("patch_embedding", "no_bias", 2),  # temperature and grad: the normalise cases are at temperature 1
        ("build_inputs", "image_after_prompt", 1),
        ("build_inputs", "left_padding", 1),
        ("build_inputs", "projector_detached", 1),
        ("build_inputs", "first_item_features", 1),
        ("build_inputs", "projector_dtype", 1),
        ("build_inputs", "not_projected", 6),
    ],
)
def test_partial_credit_follows_the_requirements(key, mistake_id, failed):
    exercise = ch08.EXERCISES[key]
    wrong = mistake_answer(exercise, next(m for m in exercise.mistakes if m.id == mistake_id))
    with pytest.raises(GradingError, match=f"{failed} of {len(exercise.subchecks)} requirements"):
        check(exercise, wrong, hidden=True, quiet=True)


def patchify_unfold(images, patch_size):
    from torch.nn.functional import unfold as cut  # an alias: still caught

    return cut(images, patch_size, stride=patch_size).transpose(1, 2)


def patchify_course(images, patch_size):
    return reference.patchify(images, patch_size)


class EmbeddingConv(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)
        self.p = patch_size

    def forward(self, images):
        E = self.proj.weight.shape[0]
        w = self.proj.weight.reshape(E, -1, self.p, self.p)
        return F.conv2d(images, w, self.proj.bias, stride=self.p).flatten(2).transpose(1, 2)


class EmbeddingCourse(reference.PatchEmbedding):
    pass


def clip_hf(image_embeds, text_embeds, temperature):
    from transformers.models.clip import modeling_clip as m

    logits = F.normalize(image_embeds, dim=-1) @ F.normalize(text_embeds, dim=-1).T / temperature
    return getattr(m, ch08.HF_CLIP_LOSS_NAME)(logits)


def connector_course(image_features, projector, prompt_ids, caption_ids, embed):
    return reference.build_inputs(image_features, projector, prompt_ids, caption_ids, embed)


def connector_llava(image_features, projector, prompt_ids, caption_ids, embed):
    """LLaVA's own placeholder mask, called on a stand-in for the model."""
    from types import SimpleNamespace

    from transformers.models.llava.modeling_llava import LlavaModel as Model

    B, N, _ = image_features.shape
    V = embed.num_embeddings
    rows = [torch.cat([torch.full((N,), V), p, c]) for p, c in zip(prompt_ids, caption_ids)]
    ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=V + 1)
    text = embed(ids.clamp(max=V - 1)) * (ids < V).unsqueeze(-1)
    visual = projector(image_features).to(text.dtype)
    fake = SimpleNamespace(config=SimpleNamespace(image_token_id=V))
    mask = Model.get_placeholder_mask(fake, ids, inputs_embeds=text, image_features=visual)
    labels = torch.full(ids.shape, -100)
    for b, (p, c) in enumerate(zip(prompt_ids, caption_ids)):
        labels[b, N + len(p) : N + len(p) + len(c)] = c
    return text.masked_scatter(mask, visual), (ids <= V).long(), labels


@pytest.mark.parametrize(
    "check_fn, fn",
    [
        (ch08.check_patchify, patchify_unfold),
        (ch08.check_patchify, patchify_course),
        (ch08.check_patch_embedding, EmbeddingConv),
        (ch08.check_patch_embedding, EmbeddingCourse),
        (ch08.check_clip_loss, clip_hf),
        (ch08.check_clip_loss, reference.clip_loss),
        (ch08.check_build_inputs, connector_course),
        (ch08.check_build_inputs, connector_llava),
    ],
)
def test_forbidden_routes_are_caught(check_fn, fn):
    with pytest.raises(GradingError, match="must be written by you"):
        check_fn(fn)
    assert reference.patchify(torch.zeros(1, 1, 4, 4), 2).shape == (1, 4, 4), "the reference works again afterwards"


def test_patch_embedding_uses_a_trusted_patchify_and_puts_the_students_back():
    wrong = mistake_answer(ch08.PATCHIFY, ch08.PATCHIFY.mistakes[0])
    namespace = {"patchify": wrong}
    exec(ALTERNATIVE_CODE["patch_embedding"][1], namespace)  # noqa: S102 - the course's own answer
    ch08.check_patch_embedding(namespace["PatchEmbedding"], hidden=True)
    assert namespace["patchify"] is wrong


def test_unimplemented_stub_gets_a_clear_message():
    def patchify(images, patch_size):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented"):
        ch08.check_patchify(patchify)


def test_the_clip_oracle_is_the_loss_clipmodel_returns():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 50,
            "max_position_embeddings": 8,
            "projection_dim": 8,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 8,
            "patch_size": 4,
            "projection_dim": 8,
        },
        projection_dim=8,
    )
    model = CLIPModel(config).eval()
    out = model(input_ids=torch.randint(0, 50, (3, 5)), pixel_values=torch.randn(3, 3, 8, 8), return_loss=True)
    temperature = 1 / model.logit_scale.exp().item()
    torch.testing.assert_close(
        reference.clip_loss(out.image_embeds, out.text_embeds, temperature), out.loss, atol=1e-5, rtol=1e-4
    )


def test_the_patch_oracles_are_the_libraries():
    case = next(c for c in ch08.PATCHIFY.cases(False) if c.subcheck == "order")
    images, p = case.inputs
    from llmcourse.grading.contract import array_of

    torch.testing.assert_close(
        torch.tensor(array_of(case.expected)).float(), reference.patchify(torch.from_numpy(images), p)
    )


def test_padding_messages_say_which_item_and_positions():
    wrong = mistake_answer(ch08.BUILD_INPUTS, next(m for m in ch08.BUILD_INPUTS.mistakes if m.id == "padding_labels"))
    with pytest.raises(GradingError) as failure:
        ch08.check_build_inputs(wrong)
    text = str(failure.value)
    assert "labels (B, T) for image_features (3, 2, 4)" in text and "item 1 is 6 positions long" in text
    assert "position 6 is right padding, expected -100 there; got [0]" in text


def _case_parts(case):
    from llmcourse.grading.runners.ch08 import connector_parts

    return connector_parts(case.inputs)


def test_the_connector_oracle_is_the_layout_the_text_states():
    """LLaVA's masked_scatter at the image tokens equals the image-first layout, in float64."""
    from llmcourse.grading.contract import array_of

    for case in ch08.BUILD_INPUTS.cases(True):
        if case.subcheck == "grad":
            continue
        features, projector, prompts, captions, embed = _case_parts(case)
        visual = projector(features).double()
        N = features.shape[1]
        embeds, mask, labels = (array_of(part) for part in case.expected["tuple"])
        for b, (p, c) in enumerate(zip(prompts, captions)):
            L = N + len(p) + len(c)
            row = torch.cat([visual[b], embed.weight.double()[p], embed.weight.double()[c]]).detach()
            low = case.inputs["dtype"] == "bfloat16"
            tolerance = {"atol": 2e-2, "rtol": 1e-2} if low else {"atol": 1e-6, "rtol": 1e-6}
            torch.testing.assert_close(torch.from_numpy(embeds[b, :L].copy()), row, **tolerance)
            assert not embeds[b, L:].any() and mask[b].tolist() == [1] * L + [0] * (mask.shape[1] - L)
            assert labels[b].tolist() == [-100] * (N + len(p)) + c.tolist() + [-100] * (labels.shape[1] - L)


def test_llava_shifts_the_labels_itself_and_casts_the_features_to_its_embeddings_dtype():
    """The label convention: LLaVA's loss with the oracle's labels is the cross-entropy of the
    logits at t against labels[t + 1], over the caption; and the features reach the language
    model in the embeddings' dtype (here float32, the projector float64)."""
    import torch.nn.functional as F

    case = next(c for c in ch08.BUILD_INPUTS.cases(False) if c.subcheck == "padding")
    features, projector, prompts, captions, embed = _case_parts(case)
    V, D = embed.weight.shape
    B, N, D_img = features.shape
    model = ch08.tiny_llava(V, D_img, D).float()
    model.model.multi_modal_projector = projector.double()
    lengths = [N + len(p) + len(c) for p, c in zip(prompts, captions)]
    ids = torch.full((B, max(lengths)), V + 1)
    labels = torch.full(ids.shape, -100)
    for b, (p, c) in enumerate(zip(prompts, captions)):
        ids[b, : lengths[b]] = torch.cat([torch.full((N,), V), p, c])
        labels[b, N + len(p) : lengths[b]] = c
    seen = {}
    model.model.language_model.register_forward_pre_hook(lambda m, a, kw: seen.update(kw), with_kwargs=True)
    out = model(input_ids=ids, pixel_values=features.double(), attention_mask=(ids != V + 1).long(), labels=labels)
    assert seen["inputs_embeds"].dtype == torch.float32
    shifted = F.cross_entropy(out.logits[:, :-1].reshape(-1, V + 2), labels[:, 1:].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, shifted)
