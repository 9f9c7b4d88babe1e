"""Diagrams drawn with matplotlib: the transformer's pieces (chapter 02) and multimodal systems (chapter 08).

Each function returns a :class:`matplotlib.figure.Figure` that is not registered with pyplot, so
a notebook cell that ends with ``diagrams.transformer_block()`` shows it once and nothing leaks
into later cells. The drawings are deterministic: boxes, arrows and labels only.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

# One colour per kind of component, used the same way in every diagram.
STREAM = "#444444"
NORM = "#f6d776"
ATTENTION = "#f4a582"
MLP = "#92c5de"
LINEAR = "#c2a5cf"
TENSOR = "#eeeeee"
HEADS = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3"]  # one colour per head (H = 4)


def _canvas(width: float, height: float, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """A figure with one axes in data units: x from 0 to width, y from 0 to height."""
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, color: str, fontsize: float = 10) -> None:
    """A rounded box centred on (x, y) with a label inside."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=color,
            edgecolor="black",
            linewidth=1,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = "black", **kwargs) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=14, color=color, linewidth=1.4, shrinkA=0, shrinkB=0, **kwargs
        )
    )


def _plus(ax: Axes, x: float, y: float, r: float = 0.28) -> None:
    """The ⊕ of a residual addition."""
    ax.add_patch(
        FancyBboxPatch(
            (x - r, y - r),
            2 * r,
            2 * r,
            boxstyle="circle,pad=0",
            facecolor="white",
            edgecolor="black",
            linewidth=1.2,
            zorder=3,
        )
    )
    ax.text(x, y, "+", ha="center", va="center", fontsize=13, zorder=4)


def transformer_block() -> Figure:
    """A pre-LN (GPT-2-style) transformer block: the residual stream with two branches,
    LayerNorm -> causal multi-head attention and LayerNorm -> MLP, each added back."""
    fig, ax = _canvas(11, 12.5, (6.4, 7.2))
    s, b = 3.0, 7.0  # x of the residual stream and of the branches
    ax.text(5.5, 12.1, "A pre-LN transformer block (GPT-2 style)", ha="center", fontsize=12, weight="bold")

    # The block's frame, repeated N times.
    ax.add_patch(Rectangle((0.9, 1.3), 8.9, 9.6, fill=False, linestyle="--", edgecolor="grey"))
    ax.text(9.7, 1.45, "× N blocks", ha="right", va="bottom", fontsize=10, color="grey")

    _box(ax, s, 0.5, 3.6, 0.7, "x: token + position\nembeddings", TENSOR, fontsize=9)
    ax.text(s + 2.0, 0.5, "(B, T, C)", va="center", fontsize=9)
    # The residual stream: a straight line from the input to the output, two additions on it.
    add1, add2 = 5.6, 9.9
    _arrow(ax, (s, 0.85), (s, add1 - 0.28), color=STREAM)
    _arrow(ax, (s, add1 + 0.28), (s, add2 - 0.28), color=STREAM)
    _arrow(ax, (s, add2 + 0.28), (s, 11.2), color=STREAM)
    ax.text(s - 0.25, 3.0, "residual stream (B, T, C)", rotation=90, ha="right", va="center", fontsize=9, color=STREAM)

    for fork, add, norm, layer, color, shape in [
        (1.7, add1, "LayerNorm 1", "causal multi-head\nself-attention", ATTENTION, "mixes positions"),
        (6.3, add2, "LayerNorm 2", "MLP: Linear C→4C,\nGELU, Linear 4C→C", MLP, "each position alone"),
    ]:
        ax.plot([s, b], [fork, fork], color=STREAM, linewidth=1.4)  # branch off the stream
        _box(ax, b, fork + 1.0, 2.6, 0.6, norm, NORM)
        _arrow(ax, (b, fork), (b, fork + 0.7))
        _box(ax, b, fork + 2.6, 3.3, 1.1, layer, color)
        _arrow(ax, (b, fork + 1.3), (b, fork + 2.05))
        ax.text(b + 1.75, fork + 2.6, shape, rotation=90, ha="left", va="center", fontsize=8, color="dimgrey")
        ax.plot([b, b], [fork + 3.15, add], color="black", linewidth=1.4)
        _arrow(ax, (b, add), (s + 0.28, add))  # the sublayer's output is added to the stream
        _plus(ax, s, add)
    ax.text(s + 0.45, add1 + 0.15, "x + attn(LN₁(x))", fontsize=8.5, va="bottom")
    ax.text(s + 0.45, add2 + 0.15, "x + mlp(LN₂(x))", fontsize=8.5, va="bottom")

    _box(
        ax,
        s,
        11.55,
        4.6,
        0.7,
        "to the next block (B, T, C);\nafter the last one: LayerNorm, LM head",
        TENSOR,
        fontsize=8.5,
    )
    return fig


def qkv_projection() -> Figure:
    """How Q, K and V come from the same x through three linear projections, and meet in
    softmax(Q K^T / sqrt(d)) V, with the shape of every tensor."""
    fig, ax = _canvas(19, 8, (11, 4.6))
    ax.text(
        9.5,
        7.55,
        r"Self-attention: $\mathrm{softmax}(QK^\top/\sqrt{d})\,V$ with its shapes",
        ha="center",
        fontsize=12,
        weight="bold",
    )
    _box(ax, 1.3, 3.8, 2.2, 1.2, "x\n(B, T, C)", TENSOR, fontsize=11)
    rows = {"Q": 6.0, "K": 3.8, "V": 1.4}
    roles = {"Q": "query: what am I\nlooking for?", "K": "key: what do\nI contain?", "V": "value: what do\nI pass on?"}
    for name, y in rows.items():
        _arrow(ax, (2.4, 3.8), (3.6, y), connectionstyle="arc3,rad=0")
        _box(ax, 4.8, y, 2.4, 1.0, f"$W_{name}$: Linear\nC → d", LINEAR)
        _arrow(ax, (6.0, y), (6.9, y))
        _box(ax, 7.8, y, 1.8, 1.0, f"{name}\n(B, T, d)", TENSOR, fontsize=11)
        ax.text(7.8, y - 0.6, roles[name], ha="center", va="top", fontsize=7.5, color="dimgrey")

    _box(ax, 11.3, 4.9, 2.9, 1.3, "scores\n" + r"$QK^\top/\sqrt{d}$" + "\n(B, T, T)", ATTENTION)
    _arrow(ax, (8.7, 6.0), (9.85, 5.2))
    _arrow(ax, (8.7, 3.8), (9.85, 4.6))
    ax.text(9.45, 3.85, r"$K^\top$", fontsize=10)
    _box(ax, 14.6, 4.9, 2.7, 1.3, "mask, then softmax\nper row: weights\n(B, T, T)", ATTENTION, fontsize=9.5)
    _arrow(ax, (12.75, 4.9), (13.25, 4.9))
    _box(ax, 17.4, 2.9, 2.6, 1.3, "weights @ V\n(B, T, d)", ATTENTION)
    _arrow(ax, (14.6, 4.25), (16.6, 3.55))
    _arrow(ax, (8.7, 1.4), (16.1, 2.6))
    ax.text(
        17.4,
        1.6,
        "each output row: a\nweighted average of\nthe rows of V",
        ha="center",
        va="top",
        fontsize=8,
        color="dimgrey",
    )
    ax.text(
        11.3, 6.0, "row i: how well query i\nmatches every key", ha="center", va="bottom", fontsize=8, color="dimgrey"
    )
    return fig


def _heads(ax: Axes, x: float, y: float, w: float, h: float, offset: float = 0.45) -> None:
    """H head blocks of shape (T, E/H) drawn as a stack, the first one in front."""
    for i, color in reversed(list(enumerate(HEADS))):
        ax.add_patch(Rectangle((x + i * offset, y + i * offset * 0.6), w, h, facecolor=color, edgecolor="black"))


def _bands(ax: Axes, x: float, y: float, w: float, h: float, colors: list[str]) -> None:
    """A (T, E) matrix as side-by-side column bands, one per head."""
    for i, color in enumerate(colors):
        ax.add_patch(Rectangle((x + i * w / len(colors), y), w / len(colors), h, facecolor=color, edgecolor="black"))


def multi_head_split_merge() -> Figure:
    """Multi-head attention's reshapes: (B, T, E) split into H heads of size E/H, attention in
    every head at once, heads put back side by side and mixed by out_proj."""
    fig, ax = _canvas(24, 7.6, (12, 4.0))
    ax.text(
        12,
        7.2,
        "Multi-head attention: split into H heads, attend, merge (here H = 4)",
        ha="center",
        fontsize=12,
        weight="bold",
    )
    T, E = 4.0, 3.2  # drawn height of T and width of E
    y0 = 1.3
    label = {"ha": "center", "va": "top", "fontsize": 9.5}

    _bands(ax, 0.5, y0, E, T, HEADS)
    ax.text(0.5 + E / 2, y0 - 0.25, "q_proj(x) (B, T, E);\nk_proj, v_proj alike", **label)
    ax.text(0.5 + E / 2, y0 + T + 0.2, "E columns", ha="center", fontsize=8.5)
    ax.text(0.2, y0 + T / 2, "T rows", rotation=90, ha="right", va="center", fontsize=8.5)

    _arrow(ax, (4.2, y0 + T / 2), (6.4, y0 + T / 2))
    ax.text(
        5.3,
        y0 + T / 2 + 0.3,
        ".view(B, T, H, E/H)\n.transpose(1, 2)",
        ha="center",
        va="bottom",
        fontsize=8,
        family="monospace",
    )
    _heads(ax, 6.7, y0, E / 4, T)
    ax.text(7.8, y0 - 0.25, "H heads\n(B, H, T, E/H)", **label)

    _arrow(ax, (9.4, y0 + T / 2), (11.4, y0 + T / 2))
    ax.text(
        10.4,
        y0 + T / 2 + 0.3,
        "attention in\nevery head at once,\nweights (B, H, T, T)",
        ha="center",
        va="bottom",
        fontsize=8,
    )
    _heads(ax, 11.7, y0, E / 4, T)
    ax.text(12.8, y0 - 0.25, "heads' outputs\n(B, H, T, E/H)", **label)

    _arrow(ax, (14.4, y0 + T / 2), (16.4, y0 + T / 2))
    ax.text(
        15.4,
        y0 + T / 2 + 0.3,
        ".transpose(1, 2)\n.reshape(B, T, E)",
        ha="center",
        va="bottom",
        fontsize=8,
        family="monospace",
    )
    _bands(ax, 16.8, y0, E, T, HEADS)
    ax.text(16.8 + E / 2, y0 - 0.25, "heads side by side\n(B, T, E)", **label)

    _arrow(ax, (20.1, y0 + T / 2), (20.7, y0 + T / 2))
    ax.text(20.4, y0 + T + 0.2, "out_proj", ha="center", fontsize=8.5, family="monospace")
    ax.add_patch(Rectangle((20.8, y0), 2.7, T, facecolor=LINEAR, edgecolor="black"))
    ax.text(22.15, y0 + T / 2, "every\noutput\nmixes\nall heads", ha="center", va="center", fontsize=8.5)
    ax.text(22.15, y0 - 0.25, "output\n(B, T, E)", **label)
    return fig


# Chapter 08's colours: the parts a multimodal system keeps frozen, trains, or only calls.
FROZEN = "#dbe9f6"
TRAINED = "#f8d7a8"
DATA = "#eeeeee"


def beyond_image_text() -> Figure:
    """Three systems beyond one image and text: ImageBind's joint embedding of six modalities,
    NExT-GPT's any-to-any pipeline (encoder, LLM, diffusion decoders joined by projections), and
    HuggingGPT's LLM controller that plans and calls other models. Blue frozen, orange trained."""
    fig, ax = _canvas(33, 12, (14, 5.2))
    ax.text(
        16.5,
        11.5,
        "Beyond image + text (blue: frozen or only called; orange: trained)",
        ha="center",
        fontsize=12,
        weight="bold",
    )

    # ImageBind: one encoder per modality, all mapped into the image embedding space.
    ax.text(5.2, 10.4, "ImageBind: one embedding space", ha="center", fontsize=10.5, weight="bold")
    modalities = ["image / video", "text", "audio", "depth", "thermal", "IMU (motion)"]
    for i, name in enumerate(modalities):
        y = 9.2 - 1.35 * i
        _box(ax, 1.6, y, 2.8, 0.9, name, DATA, fontsize=8.5)
        _box(ax, 5.0, y, 2.4, 0.9, "encoder" + (" (CLIP)" if i < 2 else ""), FROZEN if i < 2 else TRAINED, fontsize=8.5)
        _arrow(ax, (3.0, y), (3.8, y))
        _arrow(ax, (6.2, y), (7.6, 5.8 + (y - 5.8) * 0.3))
    ax.add_patch(
        FancyBboxPatch(
            (7.7, 4.2),
            2.4,
            3.2,
            boxstyle="round,pad=0.05,rounding_size=0.8",
            facecolor="white",
            edgecolor="black",
            linewidth=1.2,
        )
    )
    ax.text(8.9, 5.8, "one joint\nembedding\nspace", ha="center", va="center", fontsize=9)
    ax.text(
        5.2,
        1.3,
        "each new modality trained against\nimages (InfoNCE, as CLIP)",
        ha="center",
        va="top",
        fontsize=8,
        color="dimgrey",
    )

    # NExT-GPT: any input -> ImageBind -> projection -> LLM -> projections -> diffusion decoders -> any output.
    ax.text(17.0, 10.4, "NExT-GPT: any to any", ha="center", fontsize=10.5, weight="bold")
    steps = [
        ("text, image,\naudio, video in", DATA),
        ("ImageBind\nencoder", FROZEN),
        ("input projection", TRAINED),
        ("LLM (Vicuna), frozen;\nLoRA in instruction tuning", FROZEN),
        ("output projections", TRAINED),
        ("diffusion decoders:\nimage, audio, video", FROZEN),
        ("text, image,\naudio, video out", DATA),
    ]
    for i, (name, color) in enumerate(steps):
        y = 9.5 - 1.4 * i
        _box(ax, 17.0, y, 4.6, 0.95, name, color, fontsize=8.5)
        if i:
            _arrow(ax, (17.0, y + 0.925), (17.0, y + 0.475))
    ax.text(19.6, 5.3, "about 1% of\nthe weights\ntrained", ha="left", va="center", fontsize=8, color="dimgrey")

    # HuggingGPT: an LLM plans, picks models from a hub, runs them and writes the answer.
    ax.text(27.4, 10.4, "HuggingGPT: an LLM as controller", ha="center", fontsize=10.5, weight="bold")
    _box(ax, 25.4, 9.4, 4.4, 0.9, "user request (any media)", DATA, fontsize=8.5)
    ax.add_patch(Rectangle((23.0, 2.5), 4.8, 6.0, facecolor=FROZEN, edgecolor="black"))
    ax.text(25.4, 8.15, "ChatGPT (only prompted)", ha="center", fontsize=9, weight="bold")
    stages = ["1. task planning", "2. model selection", "3. task execution", "4. response generation"]
    for i, stage in enumerate(stages):
        y = 7.2 - 1.35 * i
        _box(ax, 25.4, y, 4.0, 0.85, stage, "white", fontsize=8.5)
        if i:
            _arrow(ax, (25.4, y + 0.925), (25.4, y + 0.425))
    _arrow(ax, (25.4, 8.95), (25.4, 8.5))
    _box(
        ax,
        30.8,
        4.5,
        4.0,
        2.6,
        "Hugging Face\nmodels: detection,\ncaptioning, speech,\nimage generation",
        FROZEN,
        fontsize=8,
    )
    _arrow(ax, (27.8, 4.5), (28.8, 4.5))
    _arrow(ax, (28.8, 3.9), (27.8, 3.9))
    ax.text(28.3, 4.75, "calls", ha="center", fontsize=8, color="dimgrey")
    _box(ax, 25.4, 1.2, 4.4, 0.9, "answer with results", DATA, fontsize=8.5)
    _arrow(ax, (25.4, 2.5), (25.4, 1.65))
    return fig
