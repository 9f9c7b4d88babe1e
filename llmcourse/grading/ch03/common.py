"""What chapter 03's exercises share: the names of the course's reference modules and Hugging
Face's GPT-2 (forbidden to the students), case inputs as NumPy arrays, cases built once per
process, and a float64 ``GPT2LMHeadModel`` with random weights (the oracle of the GPT and of the
training step)."""

from __future__ import annotations

import numpy as np
import torch
from transformers import GPT2Config
from transformers.models.gpt2.modeling_gpt2 import GPT2LMHeadModel

from llmcourse.grading.kit import seeded
from llmcourse.grading.runners.ch03 import LINEARS, NORMS

ATTENTION = "llmcourse.attention"
GPT = "llmcourse.gpt"
HF_GPT2 = "transformers.models.gpt2.modeling_gpt2"


# Case inputs hold numpy arrays, not tensors: the engine pickles a job's inputs into the student's
# process, and torch's pickling sends every tensor through a file descriptor of its own (a few
# hundred per job stop the whole grading run). The runners (llmcourse.grading.runners.ch03) turn them
# back into tensors.


def as_array(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().copy()


def hf_gpt(V: int, P: int, L: int, H: int, C: int, seed: int) -> tuple[GPT2LMHeadModel, dict[str, torch.Tensor]]:
    """A float64 GPT2LMHeadModel (tied head, no dropout) with random weights, and the same weights
    in nn.Linear's orientation, by GPT2LMHeadModel's names, without the head (it is ``wte``)."""
    config = GPT2Config(
        vocab_size=V,
        n_positions=P,
        n_embd=C,
        n_layer=L,
        n_head=H,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
    )
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config).double().eval()
    g = seeded(seed)
    weights = {}
    with torch.no_grad():
        for name, p in model.named_parameters():  # the tied head is wte's parameter: listed once
            path = name.removesuffix(".weight").removesuffix(".bias")
            if name.endswith("weight") and path.rsplit(".", 1)[-1] in (*NORMS, "ln_f"):
                value = 1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif name.endswith("bias"):
                value = 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif path.endswith(("wte", "wpe")):
                value = torch.randn(p.shape, generator=g, dtype=torch.float64)
            else:
                value = torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[0] ** 0.5 * 1.5
            p.copy_(value.float().double())  # the student's float32 model gets exactly these
            conv1d = name.endswith("weight") and path.split(".", 3)[-1] in LINEARS
            weights[name] = (p.t() if conv1d else p).float().clone()
    assert model.lm_head.weight is model.transformer.wte.weight
    return model, weights


def gpt_config(V: int, P: int, L: int, H: int, C: int) -> dict[str, int]:
    return {"vocab_size": V, "block_size": P, "n_layer": L, "n_head": H, "n_embd": C}
