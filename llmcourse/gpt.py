"""A decoder-only GPT in one file, in the style of nanoGPT's ``model.py``.

Shapes use these letters:
    B batch, T positions in this call, C = n_embd, H = n_head, d = C // H head size,
    V vocabulary size, L = number of positions attended to (past + T with a KV cache).

The architecture is GPT-2's: learned position embeddings, pre-LayerNorm blocks
(``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``), a final LayerNorm, GELU (tanh
approximation) in the MLP, and an LM head that shares its weight with the token embedding.
Parameter names match Hugging Face's ``GPT2LMHeadModel``, so :func:`to_hf` and
:func:`from_hf` only have to transpose a few matrices.

Two attention paths give the same numbers (see ``tests/test_gpt.py``):
    ``attn_impl="course"``  ``llmcourse.attention.scaled_dot_product_attention`` + ``causal_mask``,
                            the function of chapter 02: readable, and it returns the weights.
    ``attn_impl="sdpa"``    ``torch.nn.functional.scaled_dot_product_attention``: fused kernels
                            (FlashAttention on CUDA), the default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.attention import causal_mask, scaled_dot_product_attention

ATTN_IMPLS = ("sdpa", "course")


@dataclass
class GPTConfig:
    """Hyperparameters of a :class:`GPT`. GPT-2 small is
    ``GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)``."""

    vocab_size: int
    block_size: int  # longest sequence the model can see (number of position embeddings)
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms (GPT-2 has them)
    attn_impl: str = "sdpa"  # "sdpa" (fast) or "course" (chapter 02's attention)
    layer_norm_epsilon: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {self.attn_impl!r}")


class KVCache:
    """Keys and values of the positions seen so far, for every layer.

    The tensors are allocated once, ``(B, H, max_len, d)`` per layer, and each forward
    pass writes its new keys/values in place at ``[pos, pos + T)``: no ``torch.cat`` per
    step, which would allocate and copy the whole cache again for every new token.
    ``pos`` (a Python int, so reading it never waits for the GPU) counts the positions stored.
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        max_len: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        max_len = config.block_size if max_len is None else max_len
        if not 0 < max_len <= config.block_size:
            raise ValueError(f"max_len must be in [1, block_size={config.block_size}], got {max_len}")
        shape = (batch_size, config.n_head, max_len, config.n_embd // config.n_head)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.batch_size = batch_size
        self.max_len = max_len
        self.pos = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v (B, H, T, d)`` at positions ``[pos, pos + T)`` of ``layer`` and return
        views of all keys and values so far, ``(B, H, pos + T, d)``. ``pos`` is advanced by
        :meth:`GPT.forward` after the last layer."""
        end = self.pos + k.shape[2]
        self.k[layer][:, :, self.pos : end] = k
        self.v[layer][:, :, self.pos : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position ``t`` sees positions ``0..t`` only."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.attn_impl = config.attn_impl
        self.layer_idx = layer_idx  # which slot of the KV cache is ours
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        H, d = self.n_head, C // self.n_head
        qkv = self.c_attn(x).view(B, T, 3, H, d)  # (B, T, 3C) -> (B, T, 3, H, d): [q | k | v], each split in heads
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, d)

        past = 0  # positions before this call (the new queries sit at past .. past + T - 1)
        if kv_cache is not None:
            past = kv_cache.pos
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, H, L, d) with L = past + T

        if self.attn_impl == "sdpa":
            dropout_p = self.dropout if self.training else 0.0
            if past == 0:  # square (T, T) causal attention: the fused kernel builds no mask
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
            elif T == 1:  # one new query may see every cached key: no mask at all
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
            else:  # several new queries after a cached prefix: rows past .. past+T-1 of the causal mask
                mask = causal_mask(past + T, device=x.device)[past:]  # (T, L)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        else:
            mask = causal_mask(past + T, device=x.device)[past:]  # (T, L), True = may attend
            y, att = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, d), (B, H, T, L)
            if self.training and self.dropout > 0:
                y = self.attn_dropout(att) @ v  # dropout on the attention weights, as GPT-2 does

        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C): heads side by side again
        y = self.c_proj(y)  # (B, T, C)
        return self.resid_dropout(y) if self.training else y  # (dropout is the identity in eval mode)


class MLP(nn.Module):
    """Position-wise feed-forward network: ``C -> 4C -> GELU -> C``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c_fc(x)  # (B, T, 4C)
        x = F.gelu(x, approximate="tanh")  # GPT-2's "gelu_new"
        x = self.c_proj(x)  # (B, T, C)
        return self.dropout(x) if self.training else x


class Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.
    ``layer_idx`` is its slot in a :class:`KVCache` (0 for a block used on its own)."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), kv_cache)  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x


class GPT(nn.Module):
    """A GPT-2 style language model: token ids ``(B, T)`` in, next-token logits ``(B, T, V)`` out."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
                wpe=nn.Embedding(config.block_size, config.n_embd),  # learned position embeddings
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying: one (V, C) matrix, two uses

        self.apply(self._init_weights)
        # GPT-2: each residual branch adds to the stream, so scale the last projection of each
        # branch by 1/sqrt(2 * n_layer) (two branches per block) to keep the stream's variance in check.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of parameters, counting the tied embedding / LM head matrix once.
        ``exclude_embeddings=True`` leaves out the token and position embeddings."""
        n = sum(p.numel() for p in self.parameters())  # parameters() yields a shared tensor once
        if exclude_embeddings:
            n -= self.transformer.wte.weight.numel() + self.transformer.wpe.weight.numel()
        return n

    def make_kv_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty :class:`KVCache` on this model's device and dtype (``max_len`` defaults to block_size)."""
        p = self.transformer.wte.weight
        return KVCache(self.config, batch_size, max_len, device=p.device, dtype=p.dtype)

    def _check_inputs(self, idx: torch.Tensor, targets: torch.Tensor | None, kv_cache: KVCache | None) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
            shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"idx must be a (B, T) tensor of token ids, got {shape}")
        if idx.dtype not in (torch.long, torch.int32):
            raise TypeError(f"idx must hold integer token ids (torch.long), got dtype {idx.dtype}")
        B, T = idx.shape
        past = 0 if kv_cache is None else kv_cache.pos
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {past + T} (past {past} + new {T}) is longer than "
                f"block_size={self.config.block_size}"
            )
        if kv_cache is not None:
            if kv_cache.batch_size != B:
                raise ValueError(f"kv_cache was made for batch size {kv_cache.batch_size}, got idx of batch size {B}")
            if past + T > kv_cache.max_len:
                raise ValueError(f"kv_cache holds {kv_cache.max_len} positions; {past} used, {T} more do not fit")
        if targets is not None and targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position, and the loss if ``targets`` is given.

        Args:
            idx: ``(B, T)`` token ids.
            targets: optional ``(B, T)`` next-token ids (``idx`` shifted by one); positions
                with ``-100`` are ignored in the mean cross-entropy.
            kv_cache: optional :class:`KVCache`. ``idx`` then holds only the *new* tokens,
                at positions ``kv_cache.pos .. kv_cache.pos + T - 1``; their keys and values
                are stored and ``kv_cache.pos`` advances by ``T``.

        Returns:
            ``(logits (B, T, V), loss)``; ``loss`` is a scalar tensor, or ``None`` without targets.
        """
        self._check_inputs(idx, targets, kv_cache)
        B, T = idx.shape
        past = 0 if kv_cache is None else kv_cache.pos

        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe.weight[past : past + T]  # (T, C): rows for positions past .. past+T-1
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x, kv_cache)  # (B, T, C)
        x = self.transformer.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)

        if kv_cache is not None:
            kv_cache.pos += T

        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T), ignore_index=-100)
        return logits, loss

    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        eos_token_id: int | None = None,
        next_token: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Same as :func:`generate` (``model.generate(idx, n)`` == ``generate(model, idx, n)``)."""
        return generate(
            self, idx, max_new_tokens, eos_token_id=eos_token_id, next_token=next_token, use_cache=use_cache
        )


def greedy(logits: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
    """The default choice of :func:`generate`: the most likely token, ``(B, V) -> (B,)``.

    ``ids (B, t)``, the tokens so far, is part of the ``next_token`` hook's signature; greedy ignores it."""
    return logits.argmax(dim=-1)


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    eos_token_id: int | None = None,
    next_token: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue each prompt in ``idx (B, T)`` by up to ``max_new_tokens`` tokens.

    Args:
        model: a :class:`GPT`; it runs in eval mode (no dropout) and is put back afterwards.
        idx: ``(B, T)`` prompts, all of the same length (no padding).
        max_new_tokens: how many tokens to add. ``T + max_new_tokens`` must not exceed
            ``block_size``; otherwise ``ValueError`` (no silent sliding window).
        eos_token_id: optional end-of-sequence id. A sequence that has produced it keeps
            producing it; generation stops early once every sequence has.
        next_token: how to pick the next token, ``next_token(logits, ids) -> (B,)``, where
            ``logits (B, V)`` are the last position's and ``ids (B, t)`` all tokens so far (prompt
            and generated; a view into the output, so copy it to keep it). Defaults to
            :func:`greedy`; sampling (``functools.partial(llmcourse.decoding.sample, generator=g,
            top_p=0.9)``) and penalties on repeated tokens plug in here.
        use_cache: ``True`` (default) runs the prompt once, then one new token per step using
            a :class:`KVCache`; ``False`` recomputes the whole sequence every step (slow, for checking).

    Returns:
        ``(B, T + n)`` token ids (torch.long), prompt included, with ``n <= max_new_tokens``.
    """
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[1] == 0:
        raise ValueError(f"idx must be a (B, T) tensor with T >= 1, got {getattr(idx, 'shape', type(idx))}")
    if idx.dtype not in (torch.long, torch.int32):
        raise TypeError(f"idx must hold integer token ids (torch.long), got dtype {idx.dtype}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    B, T0 = idx.shape
    end = T0 + max_new_tokens
    if end > model.config.block_size:
        raise ValueError(
            f"prompt length {T0} + max_new_tokens {max_new_tokens} = {end} exceeds block_size={model.config.block_size}"
        )
    choose = greedy if next_token is None else next_token

    # Allocated outside inference mode, so the result is an ordinary tensor (usable for training).
    out = torch.empty(B, end, dtype=torch.long, device=idx.device)  # every token we will return
    out[:, :T0] = idx
    if max_new_tokens == 0:
        return out
    finished = torch.zeros(B, dtype=torch.bool, device=idx.device)  # only used with eos_token_id

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():  # no autograd bookkeeping at all
            cache = model.make_kv_cache(B, max_len=end) if use_cache else None
            logits, _ = model(out[:, :T0], kv_cache=cache)  # (B, T0, V): the prompt in one pass
            for t in range(T0, end):
                tok = choose(logits[:, -1, :], out[:, :t])  # (B, V), (B, t) -> (B,)
                if eos_token_id is not None:
                    tok = tok.masked_fill(finished, eos_token_id)  # finished sequences keep emitting eos
                    finished |= tok == eos_token_id
                out[:, t] = tok
                if t + 1 == end or (eos_token_id is not None and bool(finished.all())):
                    end = t + 1
                    break
                if use_cache:
                    logits, _ = model(out[:, t : t + 1], kv_cache=cache)  # (B, 1, V): only the new token
                else:
                    logits, _ = model(out[:, : t + 1])  # (B, t + 1, V): everything again
    finally:
        model.train(was_training)
    return out[:, :end]


def greedy_match_length(model: GPT, prefixes: torch.Tensor, continuations: torch.Tensor) -> torch.Tensor:
    """How many tokens of each true continuation greedy decoding reproduces before its first mistake.

    ``prefixes (B, P)`` are given to the model; ``continuations (B, S)`` are the tokens that really
    followed. Returns ``(B,)`` counts between 0 and ``S``: ``S`` means the model wrote the whole
    continuation verbatim, the test of *Extracting Training Data from Large Language Models* (2021).
    """
    S = continuations.shape[1]
    written = generate(model, prefixes, S)[:, prefixes.shape[1] :]  # (B, S)
    return (written == continuations.to(written.device)).long().cumprod(dim=1).sum(dim=1).cpu()


# --- Conversion to and from Hugging Face transformers' GPT2LMHeadModel -------------------

# GPT-2's original code stores these weights as Conv1D with shape (in, out): the transpose
# of nn.Linear's (out, in). Every other parameter has the same name and shape in both models.
_CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _copy_params(source: nn.Module, target: nn.Module) -> None:
    src = dict(source.named_parameters(remove_duplicate=False))
    dst = dict(target.named_parameters(remove_duplicate=False))
    if src.keys() != dst.keys():
        raise ValueError(f"parameter names differ: {sorted(src.keys() ^ dst.keys())}")
    with torch.no_grad():
        for name, p in dst.items():
            w = src[name]
            if name.endswith(_CONV1D_SUFFIXES):
                w = w.t()
            if w.shape != p.shape:
                raise ValueError(f"{name}: shape {tuple(w.shape)} does not fit {tuple(p.shape)}")
            p.copy_(w)


def to_hf(model: GPT, attn_implementation: str = "eager"):
    """A ``transformers.GPT2LMHeadModel`` with the same weights as ``model`` (same device and dtype).

    ``attn_implementation`` is Hugging Face's (``"eager"`` or ``"sdpa"``). Hugging Face's GPT-2
    always has biases, so a ``bias=False`` model raises ``ValueError``. The config gets no
    bos/eos token ids: pass ``eos_token_id`` / ``pad_token_id`` to ``generate`` yourself.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.config
    if not c.bias:
        raise ValueError(
            "transformers' GPT2Config has no bias=False option (its Conv1D and LayerNorm layers always "
            "have biases); only GPTConfig(bias=True) models can be converted"
        )
    hf_config = GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_inner=None,  # 4 * n_embd
        activation_function="gelu_new",
        resid_pdrop=c.dropout,
        embd_pdrop=c.dropout,
        attn_pdrop=c.dropout,
        layer_norm_epsilon=c.layer_norm_epsilon,
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=True,
        attn_implementation=attn_implementation,
    )
    p = model.transformer.wte.weight
    hf = GPT2LMHeadModel(hf_config).to(device=p.device, dtype=p.dtype)
    _copy_params(model, hf)
    hf.train(model.training)
    return hf


def from_hf(hf_model, attn_impl: str = "sdpa") -> GPT:
    """A :class:`GPT` with the weights of a ``transformers.GPT2LMHeadModel`` (same device and dtype).

    Works for ``GPT2LMHeadModel.from_pretrained("gpt2")`` and for models made by :func:`to_hf`.
    Hugging Face has three dropout probabilities; the course model has one, taken from
    ``resid_pdrop``. GPT-2 variants this file does not implement raise ``ValueError``.
    """
    from transformers import GPT2LMHeadModel

    if not isinstance(hf_model, GPT2LMHeadModel):
        raise TypeError(f"expected a transformers.GPT2LMHeadModel, got {type(hf_model).__name__}")
    hc = hf_model.config
    unsupported = {
        "activation_function": hc.activation_function not in ("gelu_new", "gelu_pytorch_tanh"),
        "n_inner": hc.n_inner not in (None, 4 * hc.n_embd),
        "scale_attn_weights": not hc.scale_attn_weights,
        "scale_attn_by_inverse_layer_idx": hc.scale_attn_by_inverse_layer_idx,
        "add_cross_attention": hc.add_cross_attention,
    }
    bad = {k: getattr(hc, k) for k, is_bad in unsupported.items() if is_bad}
    if bad:
        raise ValueError(f"this GPT-2 variant is not supported by llmcourse.gpt: {bad}")
    if not torch.equal(hf_model.lm_head.weight, hf_model.transformer.wte.weight):
        raise ValueError("the Hugging Face model's LM head is not tied to its token embedding")

    config = GPTConfig(
        vocab_size=hc.vocab_size,
        block_size=hc.n_positions,
        n_layer=hc.n_layer,
        n_head=hc.n_head,
        n_embd=hc.n_embd,
        dropout=float(hc.resid_pdrop),
        bias=True,
        attn_impl=attn_impl,
        layer_norm_epsilon=hc.layer_norm_epsilon,
    )
    p = hf_model.transformer.wte.weight
    model = GPT(config).to(device=p.device, dtype=p.dtype)
    _copy_params(hf_model, model)
    model.train(hf_model.training)
    return model
