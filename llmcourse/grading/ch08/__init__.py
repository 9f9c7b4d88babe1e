"""Graded checks of chapter 08 (multimodal models), declared for the grading engine.

Test cells call ``check_patchify(fn)``, ``check_patch_embedding(cls)``, ``check_clip_loss(fn)`` and
``check_build_inputs(fn)`` (visible cases); the hidden part adds ``hidden=True``. Expected values
never come from the course's own code (``llmcourse.multimodal``):

- patches: ``F.unfold(images, p, stride=p).transpose(1, 2)``;
- the patch embedding: a strided ``nn.Conv2d(C, E, p, stride=p)`` whose weight is the linear
  layer's weight reshaped to (E, C, p, p), flattened to (B, N, E);
- CLIP's loss: Hugging Face's own CLIP loss (``image_text_contrastive_loss`` in transformers 5,
  ``clip_loss`` in 4.x) on the similarity logits, in float64, and its gradients by autograd;
- the connector: what Hugging Face's ``LlavaForConditionalGeneration`` (a tiny one, random
  weights, no download) hands its language model, in float64: the case's features put by its
  ``get_placeholder_mask`` / ``masked_scatter`` at the image tokens' positions, its projector and
  its embedding table the case's; the labels by LLaVA's convention (the ids where the loss
  counts, -100 elsewhere, unshifted); and the parameters autograd reaches through that forward
  (the projector's and the embedding's: the gradient requirement asks that they are reached).

Case inputs are numpy arrays (see chapter 03: tensors each take a file descriptor on their way
into the student's process); the runners (:mod:`llmcourse.grading.runners.ch08`) turn them back
into tensors.

One module per exercise (``patchify.py``, ``patch_embedding.py``, ``clip_loss.py``,
``build_inputs.py``: cases, comparison, forbidden calls, declaration and ``check_*``), what they
share in ``common.py``, and each catalogued mistake as an answer file in
``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid alternatives
are on the instructor's side, ``autograde/alternatives/ch08/``. The mutation suite
(``make mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .build_inputs import BUILD_INPUTS, check_build_inputs, llava_builds, tiny_llava
from .clip_loss import CLIP_LOSS, HF_CLIP, HF_CLIP_LOSS_NAME, check_clip_loss, hf_clip_loss
from .common import CONV_NAMES, REFERENCE, UNFOLD_ATEN, UNFOLD_TORCH
from .patch_embedding import PATCH_EMBEDDING, check_patch_embedding
from .patchify import PATCHIFY, check_patchify

EXERCISES: dict[str, Exercise] = {
    "patchify": PATCHIFY,
    "patch_embedding": PATCH_EMBEDDING,
    "clip_loss": CLIP_LOSS,
    "build_inputs": BUILD_INPUTS,
}

__all__ = [
    "BUILD_INPUTS",
    "CLIP_LOSS",
    "CONV_NAMES",
    "EXERCISES",
    "HF_CLIP",
    "HF_CLIP_LOSS_NAME",
    "PATCHIFY",
    "PATCH_EMBEDDING",
    "REFERENCE",
    "UNFOLD_ATEN",
    "UNFOLD_TORCH",
    "check_build_inputs",
    "check_clip_loss",
    "check_patch_embedding",
    "check_patchify",
    "hf_clip_loss",
    "llava_builds",
    "tiny_llava",
]
