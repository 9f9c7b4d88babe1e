"""BLEU and ROUGE from scratch: n-gram overlap between a generated text and references.

Both are written to give exactly the numbers of the reference packages, without importing them:

- :func:`bleu` equals ``sacrebleu.corpus_bleu(hypotheses, streams).score`` with sacrebleu's
  defaults (the ``13a`` tokenizer, mixed case, smoothing ``"exp"``, n-grams up to 4, no
  effective order).
- :func:`rouge_n` and :func:`rouge_l` equal ``rouge_score``'s ``rouge1``/``rouge2``/``rougeL``
  (no stemming) as ``(precision, recall, fmeasure)``.

Import them from :mod:`llmcourse.metrics`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

# ---------------------------------------------------------------------------------------
# BLEU (Papineni et al., 2002), as sacrebleu computes it
# ---------------------------------------------------------------------------------------

MAX_ORDER = 4  # BLEU looks at 1-, 2-, 3- and 4-grams

# The "13a" tokenizer of sacrebleu (from mteval-v13a.pl, used by WMT). Applied in this order:
_13A_RULES = [
    # split off these symbols: { | } ~ [ \ ] ^ _ ` ! " # $ % & ( ) * + : ; < = > ? @ / (not ' - . ,)
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # a period or comma after a non-digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # a period or comma before a non-digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # a dash after a digit
]


def tokenize_13a(line: str) -> list[str]:
    """Split a line into tokens as sacrebleu's default ``13a`` tokenizer does.

    "It costs $3.50, right?" -> ["It", "costs", "$", "3.50", ",", "right", "?"]: punctuation is
    split off, but not the period or comma inside a number.
    """
    line = line.rstrip()  # sacrebleu strips the end of each line first
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:  # undo the HTML escapes of a few characters (in this order)
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """How often each n-gram (a tuple of ``n`` tokens) occurs in ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to ``hyp_len``; on a tie, the shorter one."""
    return min(ref_lens, key=lambda ref_len: (abs(ref_len - hyp_len), ref_len))


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU between 0 and 100, equal to ``sacrebleu.corpus_bleu`` with its defaults.

    ``references[i]`` lists the reference translations of ``hypotheses[i]`` (one or more,
    not necessarily the same number for every hypothesis). Note that sacrebleu takes the
    transpose: one *stream* per reference set, each as long as the hypotheses, and it
    silently truncates to the shortest when the lengths differ; a hypothesis with fewer
    references is padded there with ``None``. Here a length mismatch raises ``ValueError``.

    Statistics are summed over the whole corpus before any division (not an average of
    sentence scores):

    - clipped n-gram matches: a hypothesis n-gram counts at most as often as it occurs in
      the reference where it occurs most often;
    - precision ``p_n = matches_n / hypothesis n-grams_n`` for n = 1..4; where ``matches_n``
      is 0 the "exp" smoothing uses ``1 / (2^k * total_n)`` instead, k counting such orders;
      a corpus with no 4-gram at all (fewer than 4 tokens per line) scores 0;
    - brevity penalty ``exp(1 - r / c)`` when the hypotheses' length ``c`` is below ``r``,
      the sum over lines of the reference length closest to each hypothesis's length;
    - ``BLEU = 100 * BP * exp(mean of log p_n)`` (a geometric mean), 0 if nothing matches.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise ValueError("hypotheses must be a list of strings and references a list of lists of strings")
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} lists of references")
    if len(hypotheses) == 0:
        raise ValueError("need at least one hypothesis")
    hyp_len = ref_len = 0  # summed over the corpus
    matches = [0] * MAX_ORDER  # clipped matching n-grams, per order
    totals = [0] * MAX_ORDER  # n-grams in the hypotheses, per order
    for i, (hypothesis, refs) in enumerate(zip(hypotheses, references)):
        if not isinstance(hypothesis, str):
            raise ValueError(f"hypotheses[{i}] must be a string, got {hypothesis!r}")
        if isinstance(refs, str) or len(refs) == 0 or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] must be a non-empty list of strings, got {refs!r}")
        hyp_tokens = tokenize_13a(hypothesis)
        ref_tokens = [tokenize_13a(r) for r in refs]
        for n in range(1, MAX_ORDER + 1):
            hyp_ngrams = ngrams(hyp_tokens, n)
            max_ref_ngrams = Counter()  # each n-gram's largest count in any one reference
            for tokens in ref_tokens:
                max_ref_ngrams |= ngrams(tokens, n)  # | keeps the larger of two counts
            totals[n - 1] += sum(hyp_ngrams.values())
            matches[n - 1] += sum((hyp_ngrams & max_ref_ngrams).values())  # & keeps the smaller: clipping
        hyp_len += len(hyp_tokens)
        ref_len += _closest_length(len(hyp_tokens), [len(t) for t in ref_tokens])

    if sum(matches) == 0:
        return 0.0
    brevity_penalty = 1.0
    if hyp_len < ref_len:
        brevity_penalty = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    precisions = [0.0] * MAX_ORDER  # in percent, as sacrebleu
    smooth = 1.0
    for n in range(MAX_ORDER):
        if totals[n] == 0:  # no n-grams this long: the score is 0 (precision stays 0)
            break
        if matches[n] == 0:  # "exp" smoothing: 1/2, 1/4, ... of one match
            smooth *= 2
            precisions[n] = 100.0 / (smooth * totals[n])
        else:
            precisions[n] = 100.0 * matches[n] / totals[n]
    if min(precisions) == 0.0:
        return 0.0
    return brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)


# ---------------------------------------------------------------------------------------
# ROUGE (Lin, 2004), as Google's rouge-score package computes it
# ---------------------------------------------------------------------------------------


def tokenize_rouge(text: str) -> list[str]:
    """rouge-score's tokenizer: lower-case, then keep the runs of ASCII letters and digits.

    Everything else separates tokens and is dropped, accented letters too:
    "Naïve café!" -> ["na", "ve", "caf"].
    """
    return re.findall(r"[a-z0-9]+", text.lower())


def _check_text(name: str, text: str) -> None:
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a string, got {type(text).__name__} {text!r}")


def _precision_recall_f(overlap: int, n_prediction: int, n_reference: int) -> tuple[float, float, float]:
    precision = overlap / max(n_prediction, 1)
    recall = overlap / max(n_reference, 1)
    fmeasure = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, fmeasure


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    """ROUGE-N ``(precision, recall, fmeasure)`` of ``prediction`` against one ``reference``.

    The n-grams are counted as a multiset: an n-gram that occurs twice in the prediction
    but once in the reference matches once. ``precision = overlap / prediction n-grams``,
    ``recall = overlap / reference n-grams``, ``fmeasure`` their harmonic mean; 0 for a text
    without n-grams. Equal to ``rouge_score.rouge_scorer.RougeScorer([f"rouge{n}"])
    .score(reference, prediction)`` (which takes the *reference first*).
    """
    _check_text("prediction", prediction)
    _check_text("reference", reference)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    pred = ngrams(tokenize_rouge(prediction), n)
    ref = ngrams(tokenize_rouge(reference), n)
    overlap = sum((pred & ref).values())  # & keeps the minimum of the two counts
    return _precision_recall_f(overlap, sum(pred.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (in order, gaps allowed)."""
    # table[i][j] = LCS of a[:i] and b[:j]; one row at a time is enough
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
            else:
                current[j] = max(previous[j], current[j - 1])
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    """ROUGE-L ``(precision, recall, fmeasure)``: the longest common subsequence of words.

    ``precision = LCS / prediction words``, ``recall = LCS / reference words``; all 0 when
    either text has no words. Equal to rouge-score's ``rougeL`` (not ``rougeLsum``, which
    treats each line as a sentence).
    """
    _check_text("prediction", prediction)
    _check_text("reference", reference)
    pred, ref = tokenize_rouge(prediction), tokenize_rouge(reference)
    if not pred or not ref:
        return 0.0, 0.0, 0.0
    return _precision_recall_f(lcs_length(pred, ref), len(pred), len(ref))
