"""Chapter 02's checks in the student's kernel: messages that name the mistake, forbidden
routes caught at every layer, trusted stand-ins, and nothing the student patches matters."""

import math

import pytest
import torch
from torch import nn

from llmcourse import attention as reference
from llmcourse.grading import GradingError, ch02
from llmcourse.grading.alternatives import alternatives_of
from llmcourse.grading.contract import mistake_answer

ALTERNATIVE_CODE = alternatives_of(
    "02_transformer_anatomy"
)  # autograde/alternatives/: valid answers, never shipped to students


def answer(exercise, code):
    namespace = {}
    exec(code, namespace)
    return namespace[exercise.name]


GOOD_SDPA = answer(ch02.ATTENTION, ALTERNATIVE_CODE["attention"][0])


@pytest.mark.parametrize("mistake", ch02.ATTENTION.mistakes, ids=lambda m: m.id)
def test_attention_feedback_names_the_likely_mistake(mistake):
    if mistake.id == "transpose_1_2":  # raises on 2-d inputs: the message says so instead
        with pytest.raises(GradingError, match="IndexError"):
            ch02.check_attention(mistake_answer(ch02.ATTENTION, mistake))
        return
    with pytest.raises(GradingError) as failure:
        ch02.check_attention(mistake_answer(ch02.ATTENTION, mistake))
    assert mistake.message in str(failure.value)


def test_messages_give_shapes_dtype_and_first_differing_index():
    with pytest.raises(GradingError) as failure:
        ch02.check_attention(mistake_answer(ch02.ATTENTION, ch02.ATTENTION.mistakes[0]))
    text = str(failure.value)
    assert "q (3, 4), k (3, 4)" in text and "at index (" in text and "expected" in text and "got" in text
    with pytest.raises(GradingError, match="expected dtype torch.float64, got torch.float32"):
        ch02.check_attention(
            mistake_answer(ch02.ATTENTION, next(m for m in ch02.ATTENTION.mistakes if m.id == "upcast"))
        )


def test_partial_credit_follows_the_requirements():
    from llmcourse.grading.contract import check

    nan_rows = mistake_answer(ch02.ATTENTION, next(m for m in ch02.ATTENTION.mistakes if m.id == "nan_rows"))
    with pytest.raises(GradingError, match="1 of 5 requirements"):
        check(ch02.ATTENTION, nan_rows, hidden=True, quiet=True)


def sdpa_alias(q, k, v, mask=None):
    from torch.nn.functional import scaled_dot_product_attention as fast  # an alias: still caught

    return fast(q, k, v, attn_mask=mask), torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)


def sdpa_aten(q, k, v, mask=None):
    with torch._C.DisableTorchFunction():  # invisible to the torch-function layer
        out = torch.ops.aten.scaled_dot_product_attention(q, k, v)
    return out, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)


def sdpa_course(q, k, v, mask=None):
    return reference.scaled_dot_product_attention(q, k, v, mask)


def sdpa_course_swallowed(q, k, v, mask=None):
    try:
        reference.scaled_dot_product_attention(q, k, v, mask)
    except BaseException:  # noqa: BLE001 - a student hiding the call: caught on the way out
        pass
    return GOOD_SDPA(q, k, v, mask)


@pytest.mark.parametrize(
    "fn, used",
    [
        (sdpa_alias, "scaled_dot_product_attention"),
        (sdpa_aten, "aten::_scaled_dot_product"),
        (sdpa_course, "llmcourse.attention.scaled_dot_product_attention"),
        (sdpa_course_swallowed, "llmcourse.attention.scaled_dot_product_attention"),
    ],
)
def test_forbidden_routes_are_caught_and_named(fn, used):
    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        ch02.check_attention(fn)
    q = torch.randn(2, 3, 4)
    assert reference.scaled_dot_product_attention(q, q, q)[0].shape == (2, 3, 4), "the reference works again afterwards"


class MHAWrapsTorch(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.inner = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nn.Linear(embed_dim, embed_dim, bias=bias) for _ in range(4)
        )

    def forward(self, query, key, value, mask=None):
        return self.inner(query, key, value, attn_mask=None if mask is None else ~mask, average_attn_weights=False)


class MHASubclassesCourse(reference.MultiHeadAttention):
    pass


@pytest.mark.parametrize("cls", [MHAWrapsTorch, MHASubclassesCourse])
def test_mha_shortcuts_are_caught(cls):
    with pytest.raises(GradingError, match="must be written by you"):
        ch02.check_multi_head_attention(cls)


def test_mha_uses_a_trusted_attention_and_puts_the_students_back():
    namespace = {"torch": torch, "nn": nn, "math": math}
    exec(
        ch02.MULTI_HEAD_ATTENTION.mistakes[0].code.replace(
            "return heads.transpose(1, 2).reshape(B, Tq, E), w",
            "return self.out_proj(heads.transpose(1, 2).reshape(B, Tq, E)), w",
        ),
        namespace,
    )
    buggy = mistake_answer(ch02.ATTENTION, ch02.ATTENTION.mistakes[0])
    namespace["scaled_dot_product_attention"] = buggy  # the student's own, wrong attention
    ch02.check_multi_head_attention(namespace["MultiHeadAttention"], hidden=True)
    assert namespace["scaled_dot_product_attention"] is buggy
    del namespace["scaled_dot_product_attention"]  # missing altogether (a syntax error in its cell)
    ch02.check_multi_head_attention(namespace["MultiHeadAttention"])
    assert "scaled_dot_product_attention" not in namespace


def test_mha_names_missing_layers():
    class NoLayers(nn.Module):
        def __init__(self, embed_dim, num_heads, bias=True):
            super().__init__()

    with pytest.raises(GradingError, match="needs an nn.Linear named q_proj"):
        ch02.check_multi_head_attention(NoLayers)


def test_unimplemented_stub_gets_a_clear_message():
    def stub(q, k, v, mask=None):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented"):
        ch02.check_attention(stub)


def test_patched_comparisons_change_nothing(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch.Tensor, "any", lambda self, *a, **k: torch.tensor(False))
    with pytest.raises(GradingError):
        ch02.check_attention(mistake_answer(ch02.ATTENTION, ch02.ATTENTION.mistakes[0]))


def test_a_forbidden_function_counts_whoever_calls_it_unless_through_an_allowed_entry_point():
    """Issue 15: caught by what runs, not by who calls; an exercise may name library entry points
    (a model's forward) allowed to reach it."""
    import dataclasses

    from llmcourse.gpt import GPT, GPTConfig
    from llmcourse.grading.guards import ForbiddenCall, Guard

    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8, attn_impl="sdpa")).eval()
    with (
        pytest.raises(ForbiddenCall),
        Guard(ch02.ATTENTION.forbidden),
    ):  # the model calls F.scaled_dot_product_attention
        model(torch.tensor([[1, 2, 3]]))
    allowed = dataclasses.replace(ch02.ATTENTION.forbidden, allowed_callers=("llmcourse.gpt:GPT.forward",))
    with Guard(allowed):
        model(torch.tensor([[1, 2, 3]]))


def test_kernel_warns_about_names_from_demo_cells_and_check_submission_says_not_ready(tmp_path):
    """In a real kernel: an answer that leans on a demo cell passes its visible check with a
    warning, and check_submission() says the notebook is not ready."""
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "import math, torch\nfrom llmcourse.grading import ch02 as grade",
        "def pe_helper(P, D):\n    pe = torch.zeros(P, D)\n    for p in range(P):\n        for i in range(D):\n"
        "            a = p / 10000 ** ((i - i % 2) / D)\n"
        "            pe[p, i] = math.sin(a) if i % 2 == 0 else math.cos(a)\n    return pe",
        "def sinusoidal_positional_encoding(num_positions, d_model):\n    return pe_helper(num_positions, d_model)",
        "grade.check_positional_encoding(sinusoidal_positional_encoding)",
        "from llmcourse.grading import check_submission\ncheck_submission()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = lambda cell: "".join(o.get("text", "") for o in cell.outputs)  # noqa: E731
    assert "WARNING: sinusoidal_positional_encoding uses pe_helper" in text(nb.cells[3])
    assert "uses pe_helper" in text(nb.cells[4]) and "Not ready yet" in text(nb.cells[4])
    # the result displays nothing under the printed report (no stray "False")
    assert [o.output_type for o in nb.cells[4].outputs] == ["stream"], nb.cells[4].outputs


def test_decorated_and_closure_functions_are_caught_too():
    """The Python layer swaps closures (a decorator's wrapper) and follows __wrapped__."""
    import functools

    from llmcourse.grading.contract import Forbidden
    from llmcourse.grading.guards import ForbiddenCall, Guard

    def outer(scale):
        @functools.wraps(reference.scaled_dot_product_attention)
        def wrapper(*args, **kwargs):
            return reference.scaled_dot_product_attention(*args, **kwargs)[0] * scale

        return wrapper

    decorated = outer(2.0)
    import sys

    module = sys.modules[__name__]
    module._decorated = decorated
    q = torch.randn(2, 3, 4)
    with pytest.raises(ForbiddenCall):
        with Guard(Forbidden(python=(f"{__name__}:_decorated",))):
            decorated(q, q, q)
    assert decorated(q, q, q).shape == (2, 3, 4), "put back afterwards"


# ---------------------------------------------------------------- byte-level BPE (exercises 1-3)


def test_the_course_reference_meets_every_bpe_case():
    """The oracle (tokenizers, in the checks) and the course's ByteLevelBPE agree on every case."""
    from llmcourse.bpe import ByteLevelBPE
    from llmcourse.grading.contract import to_plain

    def train(text, vocab_size):
        return ByteLevelBPE.train(text, vocab_size, special_tokens=()).merges

    def encode(text, merges):
        return ByteLevelBPE(merges, special_tokens=()).encode(text)

    def decode(ids, merges):
        return ByteLevelBPE(merges, special_tokens=()).decode(ids)

    for exercise, fn in ((ch02.TRAIN_BPE, train), (ch02.BPE_ENCODE, encode), (ch02.BPE_DECODE, decode)):
        for case in exercise.cases(True):
            exercise.compare(case, to_plain(exercise.run(fn, case.inputs)), case.expected)


def train_via_course(text, vocab_size):
    from llmcourse.bpe import ByteLevelBPE

    return ByteLevelBPE.train(text, vocab_size, special_tokens=()).merges


def train_via_fast(text, vocab_size):
    from llmcourse.bpe import merges_of, train_fast

    return merges_of(train_fast(text, vocab_size, special_tokens=()))


def encode_via_course(text, merges):
    from llmcourse.bpe import ByteLevelBPE

    return ByteLevelBPE(merges, special_tokens=()).encode(text)


@pytest.mark.parametrize(
    "check, fn, used",
    [
        (ch02.check_train_bpe, train_via_course, "llmcourse.bpe.ByteLevelBPE.train"),
        (ch02.check_train_bpe, train_via_fast, "llmcourse.bpe.train_fast"),
        (ch02.check_encode, encode_via_course, "llmcourse.bpe.ByteLevelBPE"),
    ],
)
def test_bpe_shortcuts_are_caught_and_named(check, fn, used):
    from llmcourse.bpe import ByteLevelBPE

    with pytest.raises(GradingError, match=f"must be written by you.*{used}"):
        check(fn)
    assert ByteLevelBPE.train("ab ab", 257, special_tokens=()).merges == [("a", "b")], "the reference works again"


def test_bpe_library_imports_are_forbidden_names():
    from llmcourse.grading.guards import scan_source

    source = "from tokenizers import Tokenizer\nimport tiktoken\ndef encode(text, merges):\n    return []\n"
    found = scan_source(source, ch02.BPE_ENCODE.forbidden.names)
    assert any("tokenizers" in f for f in found) and any("tiktoken" in f for f in found), found
    allowed = "from llmcourse.bpe import bytes_to_unicode, initial_vocab, pretokenize\n"
    assert not scan_source(allowed, ch02.BPE_ENCODE.forbidden.names), "the building blocks may be imported"
