"""llmcourse.modern against independent implementations, and the self-checks of chapter 02's
optional exercises (correct answers pass, known mistakes are named)."""

import pytest
import torch
import torch.nn.functional as F

from llmcourse import modern
from llmcourse.grading import selfcheck


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.mark.parametrize("shape", [(8,), (3, 16), (2, 5, 64)])
@pytest.mark.parametrize("eps", [1e-6, 1e-2])
def test_rms_norm_equals_torch(shape, eps):
    x, weight = randn(*shape), randn(shape[-1], seed=1)
    torch.testing.assert_close(modern.rms_norm(x, weight, eps), F.rms_norm(x, shape[-1:], weight, eps=eps))
    norm = modern.RMSNorm(shape[-1], eps=eps)
    torch.testing.assert_close(norm(x), torch.nn.RMSNorm(shape[-1], eps=eps)(x))


@pytest.mark.parametrize("shape", [(5, 8), (2, 4, 7, 16), (1, 3, 2, 11, 32)])
@pytest.mark.parametrize("base", [10000.0, 500000.0])
def test_rope_equals_transformers_llama(shape, base):
    x = randn(*shape)
    torch.testing.assert_close(modern.rope(x, base), selfcheck.hf_rope(x, base))


def test_rope_scores_depend_on_the_distance_only():
    q, k = randn(16), randn(16, seed=1)
    pairs = [(2, 0), (4, 2), (5, 3)]
    rq, rk = modern.rope(q.expand(6, 16).clone()), modern.rope(k.expand(6, 16).clone())  # the same q, k everywhere
    scores = [rq[m] @ rk[n] for m, n in pairs]
    torch.testing.assert_close(torch.stack(scores), scores[0].expand(3))


@pytest.mark.parametrize("shape,hidden", [((16,), 24), ((2, 5, 16), 40), ((2, 3, 4, 32), 88)])
def test_swiglu_equals_transformers_llama_mlp(shape, hidden):
    torch.manual_seed(0)
    ours = modern.SwiGLU(shape[-1], hidden)
    theirs = selfcheck.hf_swiglu(ours, shape[-1], hidden)
    x = randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("H,G", [(8, 2), (4, 1), (4, 4), (6, 3)])
@pytest.mark.parametrize("is_causal", [True, False])
def test_grouped_query_attention_equals_torch(H, G, is_causal):
    q, k, v = randn(2, H, 7, 16), randn(2, G, 7, 16, seed=1), randn(2, G, 7, 16, seed=2)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    torch.testing.assert_close(modern.grouped_query_attention(q, k, v, is_causal), expected)
    torch.testing.assert_close(selfcheck.sdpa_gqa(q, k, v, is_causal), expected)


def test_grouped_query_attention_cross_lengths():
    q, k, v = randn(1, 4, 3, 8), randn(1, 2, 9, 8, seed=1), randn(1, 2, 9, 8, seed=2)
    out = modern.grouped_query_attention(q, k, v, is_causal=False)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
    with pytest.raises(ValueError, match="multiple"):
        modern.grouped_query_attention(randn(1, 4, 3, 8), randn(1, 3, 3, 8), randn(1, 3, 3, 8))


def report(check, answer, capsys):
    check(answer)
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "check,answer",
    [
        (selfcheck.check_rms_norm, modern.rms_norm),
        (selfcheck.check_rope, modern.rope),
        (selfcheck.check_swiglu, modern.SwiGLU),
        (selfcheck.check_grouped_query_attention, modern.grouped_query_attention),
    ],
)
def test_self_checks_pass_the_reference(check, answer, capsys):
    out = report(check, answer, capsys)
    assert "✗" not in out and "all self-checks pass" in out, out


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


class _SiluOnUp(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(self.gate_proj(x) * F.silu(self.up_proj(x)))


def _gqa_tiled(q, k, v, is_causal=True):
    r = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, k.repeat(1, r, 1, 1), v.repeat(1, r, 1, 1), is_causal=is_causal)


@pytest.mark.parametrize(
    "check,answer,message",
    [
        (selfcheck.check_rms_norm, lambda x, w, eps=1e-6: F.layer_norm(x, x.shape[-1:], w, eps=eps), "LayerNorm"),
        (
            selfcheck.check_rms_norm,
            lambda x, w, eps=1e-6: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w,
            "inside the square root",
        ),
        (selfcheck.check_rope, lambda x, base=10000.0: selfcheck._rope_interleaved(x, base), "neighbours (2i, 2i+1)"),
        (selfcheck.check_rope, _not_implemented, "not implemented yet"),
        (selfcheck.check_swiglu, _SiluOnUp, "gate_proj's output"),
        (selfcheck.check_grouped_query_attention, _gqa_tiled, "repeat_interleave"),
    ],
)
def test_self_checks_name_the_mistake(check, answer, message, capsys):
    out = report(check, answer, capsys)
    assert "✗" in out and message in out, out
    failing = next(line for line in out.splitlines() if "✗" in line)
    assert "expected" in failing or "not implemented" in failing, failing
