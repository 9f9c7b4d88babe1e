"""The diagrams of chapters 02 and 08: each is a labelled Figure that renders to PNG."""

import io

import pytest
from matplotlib.figure import Figure

from llmcourse import diagrams

DIAGRAMS = {
    diagrams.transformer_block: ["LayerNorm 1", "LayerNorm 2", "self-attention", "MLP", "residual stream"],
    diagrams.qkv_projection: ["$W_Q$", "$W_K$", "$W_V$", "(B, T, T)", "weights @ V"],
    diagrams.multi_head_split_merge: ["(B, H, T, E/H)", ".transpose(1, 2)", "out_proj", "(B, T, E)"],
    diagrams.beyond_image_text: [
        "ImageBind",
        "one joint\nembedding\nspace",
        "NExT-GPT",
        "input projection",
        "HuggingGPT",
        "2. model selection",
        "IMU (motion)",
    ],
}


@pytest.mark.parametrize("draw", DIAGRAMS, ids=lambda f: f.__name__)
def test_diagram_is_a_labelled_figure_that_renders(draw):
    fig = draw()
    assert isinstance(fig, Figure)
    texts = " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    for label in DIAGRAMS[draw]:
        assert label in texts, f"{draw.__name__} lacks the label {label!r}"
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=50)
    assert png.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize("draw", DIAGRAMS, ids=lambda f: f.__name__)
def test_diagram_is_deterministic_and_not_left_in_pyplot(draw):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    first, second = io.BytesIO(), io.BytesIO()
    draw().savefig(first, format="png", dpi=40)
    draw().savefig(second, format="png", dpi=40)
    assert first.getvalue() == second.getvalue()
    assert plt.get_fignums() == before
