"""A small table of language-model history (chapter 01): ideas and models, their year, their
size and where they were published.

``MILESTONES`` are the ideas before transformers; ``MODELS`` the transformer models of the
timeline. ``year`` is that of the first public release (paper, preprint or announcement).
``parameters`` is the size of the largest version described in the source, or ``None`` when
it was not published; ``tokens`` the number of training tokens of that version, where the source
states it. ``source`` is the paper (title, year) or the announcement that states it.

    from llmcourse import history
    [m.name for m in history.MODELS if m.parameters and m.parameters >= 100e9]
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Milestone", "Model", "MILESTONES", "MODELS", "ATTENTION_IS_ALL_YOU_NEED", "by_name", "with_parameters"]


@dataclass(frozen=True)
class Milestone:
    name: str
    year: int
    idea: str
    source: str


@dataclass(frozen=True)
class Model:
    name: str
    year: int
    parameters: float | None  # largest version described in the source; None: not published
    kind: str  # "encoder", "decoder", "encoder-decoder", "product"
    note: str
    source: str
    active_parameters: float | None = None  # per token, for sparse mixture-of-experts models
    tokens: float | None = None  # training tokens of that largest version, where the source states them


M, B = 1e6, 1e9

MILESTONES: tuple[Milestone, ...] = (
    Milestone(
        "Bag of words", 1954, "a document is the multiset of its words", 'Z. Harris, "Distributional Structure" (1954)'
    ),
    Milestone(
        "TF-IDF",
        1972,
        "weigh a term by how rare it is across documents",
        'K. Spärck Jones, "A Statistical Interpretation of Term Specificity and Its Application in Retrieval" (1972)',
    ),
    Milestone(
        "LSTM",
        1997,
        "gated recurrent cells keep information over long distances",
        'S. Hochreiter, J. Schmidhuber, "Long Short-Term Memory" (1997)',
    ),
    Milestone(
        "Word2Vec",
        2013,
        "dense word vectors learned from context",
        'T. Mikolov et al., "Efficient Estimation of Word Representations in Vector Space" (2013)',
    ),
    Milestone(
        "Encoder-decoder RNNs",
        2014,
        "read a sentence into a vector, write its translation",
        'I. Sutskever et al., "Sequence to Sequence Learning with Neural Networks" (2014); '
        'K. Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder '
        'for Statistical Machine Translation" (2014)',
    ),
    Milestone(
        "GloVe",
        2014,
        "word vectors from global co-occurrence counts",
        'J. Pennington et al., "GloVe: Global Vectors for Word Representation" (2014)',
    ),
    Milestone(
        "Attention for translation",
        2014,
        "the decoder looks back at every encoder state",
        "D. Bahdanau, K. Cho, Y. Bengio, "
        '"Neural Machine Translation by Jointly Learning to Align and Translate" (2014)',
    ),
    Milestone(
        "Transformer",
        2017,
        "attention only, no recurrence: trains in parallel",
        'A. Vaswani et al., "Attention Is All You Need" (2017)',
    ),
)

MODELS: tuple[Model, ...] = (
    Model(
        "Transformer (big)",
        2017,
        213 * M,
        "encoder-decoder",
        "WMT 2014 En-Fr BLEU 41.8 after 3.5 days on 8 GPUs",
        '"Attention Is All You Need" (Vaswani et al., 2017)',
    ),
    Model(
        "GPT-1",
        2018,
        117 * M,
        "decoder",
        "generative pre-training, then fine-tuning",
        '"Improving Language Understanding by Generative Pre-Training" (Radford et al., 2018)',
    ),
    Model(
        "BERT",
        2018,
        340 * M,
        "encoder",
        "masked language model + next-sentence prediction; BERT-large",
        '"BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding" (Devlin et al., 2018)',
    ),
    Model(
        "GPT-2",
        2019,
        1.5 * B,
        "decoder",
        "zero-shot task transfer",
        '"Language Models are Unsupervised Multitask Learners" (Radford et al., 2019)',
    ),
    Model(
        "XLNet",
        2019,
        340 * M,
        "encoder",
        "permutation language modelling; XLNet-large",
        '"XLNet: Generalized Autoregressive Pretraining for Language Understanding" (Yang et al., 2019)',
    ),
    Model(
        "RoBERTa",
        2019,
        355 * M,
        "encoder",
        "BERT trained longer on more data, no next-sentence prediction",
        '"RoBERTa: A Robustly Optimized BERT Pretraining Approach" (Liu et al., 2019)',
    ),
    Model(
        "ALBERT",
        2019,
        235 * M,
        "encoder",
        "shared layers, factorised embeddings; ALBERT-xxlarge",
        '"ALBERT: A Lite BERT for Self-supervised Learning of Language Representations" (Lan et al., 2019)',
    ),
    Model(
        "DistilBERT",
        2019,
        66 * M,
        "encoder",
        "BERT distilled into a smaller student",
        '"DistilBERT, a distilled version of BERT: smaller, faster, cheaper and lighter" (Sanh et al., 2019)',
    ),
    Model(
        "BART",
        2019,
        400 * M,
        "encoder-decoder",
        "denoising sequence-to-sequence pre-training; BART-large",
        '"BART: Denoising Sequence-to-Sequence Pre-training for Natural Language Generation, '
        'Translation, and Comprehension" (Lewis et al., 2019)',
    ),
    Model(
        "T5",
        2019,
        11 * B,
        "encoder-decoder",
        "every task as text-to-text, span corruption",
        '"Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer" (Raffel et al., 2019)',
    ),
    Model(
        "Reformer",
        2020,
        None,
        "decoder",
        "locality-sensitive-hashing attention for long sequences",
        '"Reformer: The Efficient Transformer" (Kitaev et al., 2020)',
    ),
    Model(
        "ELECTRA",
        2020,
        335 * M,
        "encoder",
        "replaced-token detection; ELECTRA-large",
        '"ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators" (Clark et al., 2020)',
    ),
    Model(
        "Longformer",
        2020,
        435 * M,
        "encoder",
        "sliding-window + global attention, 4,096 tokens; Longformer-large",
        '"Longformer: The Long-Document Transformer" (Beltagy et al., 2020)',
    ),
    Model(
        "GPT-3",
        2020,
        175 * B,
        "decoder",
        "in-context (few-shot) learning",
        '"Language Models are Few-Shot Learners" (Brown et al., 2020)',
        tokens=300 * B,
    ),
    Model(
        "Switch Transformer",
        2021,
        1571 * B,
        "encoder-decoder",
        "sparse mixture of experts: one expert per token; Switch-C",
        '"Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity" '
        "(Fedus et al., 2021)",
    ),
    Model(
        "Codex",
        2021,
        12 * B,
        "decoder",
        "GPT fine-tuned on code",
        '"Evaluating Large Language Models Trained on Code" (Chen et al., 2021)',
    ),
    Model(
        "LaMDA",
        2021,
        137 * B,
        "decoder",
        "dialogue; announced 2021, paper 2022",
        '"LaMDA: Language Models for Dialog Applications" (Thoppilan et al., 2022)',
    ),
    Model(
        "Gopher",
        2021,
        280 * B,
        "decoder",
        "scaling study over 152 tasks",
        '"Scaling Language Models: Methods, Analysis & Insights from Training Gopher" (Rae et al., 2021)',
        tokens=300 * B,
    ),
    Model(
        "InstructGPT",
        2022,
        175 * B,
        "decoder",
        "RLHF: its 1.3B version was preferred to the 175B GPT-3",
        '"Training language models to follow instructions with human feedback" (Ouyang et al., 2022)',
    ),
    Model(
        "Chinchilla",
        2022,
        70 * B,
        "decoder",
        "compute-optimal: 1.4T tokens, about 20 tokens per parameter",
        '"Training Compute-Optimal Large Language Models" (Hoffmann et al., 2022)',
        tokens=1400 * B,
    ),
    Model(
        "PaLM",
        2022,
        540 * B,
        "decoder",
        "trained with Pathways on 6,144 TPU v4 chips",
        '"PaLM: Scaling Language Modeling with Pathways" (Chowdhery et al., 2022)',
        tokens=780 * B,
    ),
    Model(
        "ChatGPT",
        2022,
        None,
        "product",
        "a GPT-3.5 model tuned for dialogue with RLHF; size not published",
        'OpenAI, "Introducing ChatGPT" (2022)',
    ),
    Model(
        "LLaMA",
        2023,
        65 * B,
        "decoder",
        "open weights, 7B to 65B",
        '"LLaMA: Open and Efficient Foundation Language Models" (Touvron et al., 2023)',
        tokens=1400 * B,
    ),
    Model(
        "GPT-4", 2023, None, "product", "accepts images; size not published", '"GPT-4 Technical Report" (OpenAI, 2023)'
    ),
    Model(
        "Mistral 7B",
        2023,
        7.3 * B,
        "decoder",
        "grouped-query and sliding-window attention",
        '"Mistral 7B" (Jiang et al., 2023)',
    ),
    Model(
        "Mixtral 8x7B",
        2023,
        46.7 * B,
        "decoder",
        "sparse mixture of experts: 12.9B parameters active per token",
        '"Mixtral of Experts" (Jiang et al., 2024; released December 2023)',
        active_parameters=12.9 * B,
    ),
    Model(
        "Gemini 1.5",
        2024,
        None,
        "product",
        "contexts of 1M tokens (tested up to 10M); size not published",
        '"Gemini 1.5: Unlocking multimodal understanding across millions of tokens of context" (Gemini Team, 2024)',
    ),
    Model(
        "Claude 3",
        2024,
        None,
        "product",
        "200K-token context; size not published",
        'Anthropic, "The Claude 3 Model Family: Opus, Sonnet, Haiku" (model card, 2024)',
    ),
)

# The result that started it, as the paper reports it.
ATTENTION_IS_ALL_YOU_NEED = {
    "title": "Attention Is All You Need",
    "year": 2017,
    "task": "WMT 2014 English-to-French translation",
    "bleu": 41.8,
    "training_days": 3.5,
    "gpus": 8,
}


def by_name(name: str) -> Model:
    """The model of that name (``KeyError`` if there is none)."""
    for model in MODELS:
        if model.name == name:
            return model
    raise KeyError(name)


def with_parameters() -> list[Model]:
    """The models whose size was published, by year."""
    return sorted((m for m in MODELS if m.parameters is not None), key=lambda m: (m.year, m.parameters))
