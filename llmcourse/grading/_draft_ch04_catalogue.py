'''Draft catalogue of chapter 04's graded functions: realistic wrong answers and valid alternatives.

``MISTAKES[name]`` lists ``(mistake_id, message, code)``: ``code`` is a complete answer a student
could hand in (imports included) defining ``name`` with one realistic bug, and ``message`` names
that bug for the student. ``ALTERNATIVES[name]`` lists valid answers written differently from the
reference (:mod:`llmcourse.metrics`), which must get full marks. tests/test_draft_ch04_catalogue.py
checks that every mistake gives a different result from the oracle (Hugging Face's loss, a
brute-force per-token computation, sacrebleu, rouge-score) on some realistic input, and that every
alternative agrees with it on random inputs.

The answers take what the graded exercises pass: ``perplexity(logits, input_ids,
attention_mask=None)`` with tensors; ``sliding_window_perplexity(model, input_ids, max_length,
stride)`` with a Hugging Face causal LM (``model(ids).logits``) and ``input_ids`` of shape (1, N);
``bleu(hypotheses, references)`` with one list of references per hypothesis; ``rouge_n(prediction,
reference, n)`` and ``rouge_l(prediction, reference)`` returning ``(precision, recall, fmeasure)``.

Several answers are written once and varied by replacing a line (:func:`_variant`): each
resulting string is still a complete, self-contained answer.
'''
from __future__ import annotations


def _variant(code: str, *replacements: tuple[str, str]) -> str:
    """``code`` with each ``old`` replaced by ``new``; each ``old`` must occur exactly once."""
    for old, new in replacements:
        if code.count(old) != 1:
            raise ValueError(f"{old!r} occurs {code.count(old)} times in the template")
        code = code.replace(old, new)
    return code


# ======================================================================================
# perplexity
# ======================================================================================

_PPL = """import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    targets = input_ids[:, 1:]  # (B, T-1)
    mask = attention_mask[:, 1:].bool()  # (B, T-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return math.exp(nll[mask].mean().item())
"""

PERPLEXITY_MISTAKES = [
    (
        "no_shift",
        "your perplexity compares logits[:, t] with input_ids[:, t] instead of input_ids[:, t+1] (no shift): "
        "the logits at position t predict the *next* token",
        """import math
import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return math.exp(nll[attention_mask.bool()].mean().item())
""",
    ),
    (
        "padding_counted",
        "your perplexity ignores attention_mask: the padding tokens are counted as targets",
        """import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    shift_logits = logits[:, :-1, :]
    shift_labels = input_ids[:, 1:]
    loss = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1))
    return torch.exp(loss).item()
""",
    ),
    (
        "log_base_2",
        "your perplexity takes log base 2 of the probabilities (bits) but then exponentiates with e: "
        "use 2 ** bits, or natural logs with exp",
        """import math
import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    probs = torch.softmax(logits[:, :-1].float(), dim=-1)
    p_target = probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    nll = -torch.log2(p_target)
    mask = attention_mask[:, 1:].bool()
    return math.exp(nll[mask].mean().item())
""",
    ),
    (
        "mean_of_sequence_perplexities",
        "your perplexity averages the perplexities of the rows: it must be exp of the mean NLL over all "
        "predicted tokens of the batch (a long row counts more than a short one)",
        """import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    mask = attention_mask[:, 1:].float()
    per_sequence = (nll * mask).sum(dim=1) / mask.sum(dim=1)  # (B,)
    return torch.exp(per_sequence).mean().item()
""",
    ),
    (
        "mask_on_inputs",
        "your perplexity masks with attention_mask[:, :-1] (the positions that predict) instead of "
        "attention_mask[:, 1:] (the targets): with right padding the first padding token is scored",
        _variant(_PPL, ("mask = attention_mask[:, 1:].bool()", "mask = attention_mask[:, :-1].bool()")),
    ),
    (
        "divides_by_tokens",
        "your perplexity divides the summed NLL by attention_mask.sum(), the number of tokens, instead of "
        "the number of predicted tokens (the first token of each row is never predicted)",
        _variant(
            _PPL,
            ("return math.exp(nll[mask].mean().item())", "return math.exp((nll[mask].sum() / attention_mask.sum()).item())"),
        ),
    ),
]

PERPLEXITY_ALTERNATIVES = [
    # explicit loops, float64
    """import math
import torch


def perplexity(logits, input_ids, attention_mask=None):
    B, T, V = logits.shape
    total, count = 0.0, 0
    for b in range(B):
        for t in range(T - 1):
            if attention_mask is not None and attention_mask[b, t + 1] == 0:
                continue
            log_probs = torch.log_softmax(logits[b, t].double(), dim=-1)
            total -= log_probs[input_ids[b, t + 1]].item()
            count += 1
    return math.exp(total / count)
""",
    # F.cross_entropy with labels -100 at the padding, as Hugging Face does
    """import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    shift_logits = logits[:, :-1, :].contiguous()
    shift_labels = labels[:, 1:].contiguous()
    loss = F.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1), ignore_index=-100)
    return torch.exp(loss).item()
""",
    # gather and a weighted sum
    """import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = logits.log_softmax(-1)[:, :-1]
    token_log_probs = log_probs.gather(2, input_ids[:, 1:, None])[..., 0]
    weights = attention_mask[:, 1:].to(log_probs.dtype)
    return torch.exp(-(token_log_probs * weights).sum() / weights.sum()).item()
""",
]


# ======================================================================================
# sliding_window_perplexity
# ======================================================================================

_GUIDE = """import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    seq_len = input_ids.size(1)
    nlls = []
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on the last loop
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(ids, labels=target_ids)
        nlls.append(outputs.loss)
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return torch.exp(torch.stack(nlls).mean()).item()
"""

SLIDING_WINDOW_MISTAKES = [
    (
        "average_per_window",
        "your sliding-window perplexity averages the windows' losses: the last window scores fewer tokens "
        "than the others, so weight each window by the number of tokens it scores",
        _GUIDE,
    ),
    (
        "trg_len_minus_1",
        "your sliding-window perplexity weights each window by trg_len - 1: only the first window loses a "
        "token to the shift; a later window scores all of its trg_len new tokens",
        _variant(
            _GUIDE,
            ("    nlls = []\n", "    nll_sum, n_tokens = 0.0, 0\n"),
            (
                "        nlls.append(outputs.loss)\n",
                "        num_loss_tokens = (target_ids != -100).sum().item() - target_ids.size(0)  # label shift\n"
                "        nll_sum += outputs.loss.item() * num_loss_tokens\n"
                "        n_tokens += num_loss_tokens\n",
            ),
            ("return torch.exp(torch.stack(nlls).mean()).item()", "return torch.exp(torch.tensor(nll_sum / n_tokens)).item()"),
        ),
    ),
    (
        "trg_len_weights_over_n",
        "your sliding-window perplexity weights the windows by trg_len and divides by the text's length: "
        "the first token is never predicted, so the first window scores trg_len - 1 tokens and the total is N - 1",
        _variant(
            _GUIDE,
            ("        nlls.append(outputs.loss)\n", "        nlls.append(outputs.loss * trg_len)\n"),
            ("return torch.exp(torch.stack(nlls).mean()).item()", "return torch.exp(torch.stack(nlls).sum() / end_loc).item()"),
        ),
    ),
    (
        "rescores_overlap",
        "your sliding-window perplexity scores every token of every window: tokens in the overlap are "
        "scored again; each window must score only the tokens no earlier window scored",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            logits = model(input_ids[:, begin:end]).logits  # (1, W, V)
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
""",
    ),
    (
        "stride_max_length_swapped",
        "your sliding-window perplexity swaps stride and max_length: windows must start every `stride` "
        "tokens and be at most `max_length` long",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, max_length):
            end = min(begin + stride, N)
            if end - begin < 2:
                continue
            logits = model(input_ids[:, begin:end]).logits
            nll_sum += F.cross_entropy(logits[0, :-1], input_ids[0, begin + 1 : end], reduction="sum").item()
            n_tokens += end - begin - 1
    return math.exp(nll_sum / n_tokens)
""",
    ),
    (
        "no_context",
        "your sliding-window perplexity feeds each window only the tokens it scores: the earlier tokens of "
        "the window must be there as context (and the first new token of each window goes unscored)",
        """import math
import torch
import torch.nn.functional as F


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.size(1)
    nll_sum, n_tokens = 0.0, 0
    prev_end = 0
    with torch.no_grad():
        for begin in range(0, N, stride):
            end = min(begin + max_length, N)
            new_tokens = input_ids[:, prev_end:end]  # only what this window has to score
            if new_tokens.size(1) > 1:
                logits = model(new_tokens).logits
                nll_sum += F.cross_entropy(logits[0, :-1], new_tokens[0, 1:], reduction="sum").item()
                n_tokens += new_tokens.size(1) - 1
            prev_end = end
            if end == N:
                break
    return math.exp(nll_sum / n_tokens)
""",
    ),
]

SLIDING_WINDOW_ALTERNATIVES = [
    # a loop over the tokens each window scores, explicit log-probabilities
    """import math
import torch


def sliding_window_perplexity(model, input_ids, max_length, stride):
    ids = input_ids[0]
    N = len(ids)
    total, scored = 0.0, 0
    start, next_to_score = 0, 1
    with torch.no_grad():
        while next_to_score < N:
            end = min(start + max_length, N)
            log_probs = torch.log_softmax(model(ids[start:end][None]).logits[0].double(), dim=-1)
            for t in range(next_to_score, end):
                total -= log_probs[t - 1 - start, ids[t]].item()  # position t-1 predicts token t
                scored += 1
            next_to_score = end
            start += stride
    return math.exp(total / scored)
""",
    # the guide's labels with -100, but summed with F.cross_entropy and counted exactly
    """import math
import torch
import torch.nn.functional as F
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    logits_of = logits_fn(model)
    seq_len = input_ids.size(1)
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        window = input_ids[:, begin:end]
        labels = window.clone()
        labels[:, : prev_end - begin] = -100  # already scored: context only
        with torch.no_grad():
            logits = logits_of(window)
        shift_labels = labels[0, 1:]
        nll_sum += F.cross_entropy(logits[0, :-1], shift_labels, ignore_index=-100, reduction="sum").item()
        n_tokens += (shift_labels != -100).sum().item()
        prev_end = end
        if end == seq_len:
            break
    return math.exp(nll_sum / n_tokens)
""",
]


# ======================================================================================
# bleu
# ======================================================================================

_TOKENIZE_13A = r'''import math
import re
from collections import Counter


def tokenize_13a(line):
    line = line.rstrip()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = " " + line + " "
    line = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", line)
    line = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", line)
    line = re.sub(r"([\.,])([^0-9])", r" \1 \2", line)
    line = re.sub(r"([0-9])(-)", r"\1 \2 ", line)
    return line.split()
'''

_BLEU = _TOKENIZE_13A + '''

def ngram_counts(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses, references):
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = tokenize_13a(hyp)
        rs = [tokenize_13a(r) for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest
        for n in range(1, 5):
            counts = ngram_counts(h, n)
            max_ref = Counter()
            for r in rs:
                for gram, c in ngram_counts(r, n).items():
                    max_ref[gram] = max(max_ref[gram], c)
            totals[n - 1] += sum(counts.values())
            matches[n - 1] += sum(min(c, max_ref[gram]) for gram, c in counts.items())
    if sum(matches) == 0:
        return 0.0
    precisions = []
    k = 1
    for n in range(4):
        if totals[n] == 0:
            return 0.0
        if matches[n] == 0:
            k *= 2
            precisions.append(1 / (k * totals[n]))
        else:
            precisions.append(matches[n] / totals[n])
    bp = 1.0
    if hyp_len < ref_len:
        bp = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    return 100 * bp * math.exp(sum(math.log(p) for p in precisions) / 4)
'''

BLEU_MISTAKES = [
    (
        "no_brevity_penalty",
        "your BLEU has no brevity penalty: a short hypothesis must be penalised by exp(1 - r/c)",
        _variant(_BLEU, ("    return 100 * bp * math.exp(", "    return 100 * math.exp(")),
    ),
    (
        "no_clipping",
        "your BLEU does not clip the n-gram counts: a hypothesis n-gram matches at most as often as it occurs in a reference",
        _variant(
            _BLEU,
            (
                "matches[n - 1] += sum(min(c, max_ref[gram]) for gram, c in counts.items())",
                "matches[n - 1] += sum(c for gram, c in counts.items() if gram in max_ref)",
            ),
        ),
    ),
    (
        "arithmetic_mean",
        "your BLEU takes the arithmetic mean of the n-gram precisions: BLEU uses their geometric mean "
        "(exp of the mean of their logs)",
        _variant(
            _BLEU,
            ("return 100 * bp * math.exp(sum(math.log(p) for p in precisions) / 4)", "return 100 * bp * sum(precisions) / 4"),
        ),
    ),
    (
        "no_smoothing",
        "your BLEU gives 0 as soon as one n-gram order has no match: sacrebleu's default smoothing ('exp') "
        "uses 1/(2^k * total) for the k-th such order",
        _variant(
            _BLEU,
            ("            k *= 2\n            precisions.append(1 / (k * totals[n]))\n", "            return 0.0\n"),
        ),
    ),
    (
        "whitespace_tokenization",
        "your BLEU splits on whitespace: sacrebleu's 13a tokenizer splits off punctuation ('mat.' -> 'mat', '.')",
        _variant(_BLEU, ("        h = tokenize_13a(hyp)\n        rs = [tokenize_13a(r) for r in refs]\n", "        h = hyp.split()\n        rs = [r.split() for r in refs]\n")),
    ),
    (
        "mean_of_sentence_bleu",
        "your BLEU averages sentence-level scores: corpus BLEU sums the n-gram counts and lengths over all "
        "sentences before dividing",
        _variant(
            _BLEU,
            ("def bleu(hypotheses, references):", "def sentence_bleu(hypotheses, references):"),
        )
        + '''

def bleu(hypotheses, references):
    scores = [sentence_bleu([h], [refs]) for h, refs in zip(hypotheses, references)]
    return sum(scores) / len(scores)
''',
    ),
    (
        "first_reference_length",
        "your BLEU's brevity penalty uses the first reference's length: it must use the reference length "
        "closest to the hypothesis's (the shorter one on a tie)",
        _variant(_BLEU, ("ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, then shortest", "ref_len += len(rs[0])")),
    ),
]

BLEU_ALTERNATIVES = [
    _BLEU,
    # n-grams as strings in dicts, statistics per sentence then summed, geometric mean as a product
    r'''import math
import re


def tokenize(line):
    line = line.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in [("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")]:
        line = line.replace(entity, char)
    rules = [
        (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),
        (r"([^0-9])([\.,])", r"\1 \2 "),
        (r"([\.,])([^0-9])", r" \1 \2"),
        (r"([0-9])(-)", r"\1 \2 "),
    ]
    line = f" {line} "
    for pattern, repl in rules:
        line = re.sub(pattern, repl, line)
    return line.split()


def count(tokens, n):
    counts = {}
    for i in range(len(tokens) - n + 1):
        gram = " ".join(tokens[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def sentence_stats(hyp, refs):
    h, rs = tokenize(hyp), [tokenize(r) for r in refs]
    best = sorted(rs, key=lambda r: (abs(len(r) - len(h)), len(r)))[0]
    stats = [len(h), len(best)]
    for n in range(1, 5):
        hyp_counts = count(h, n)
        ref_max = {}
        for r in rs:
            for gram, c in count(r, n).items():
                ref_max[gram] = max(ref_max.get(gram, 0), c)
        stats.append(sum(min(c, ref_max.get(gram, 0)) for gram, c in hyp_counts.items()))
        stats.append(sum(hyp_counts.values()))
    return stats


def bleu(hypotheses, references):
    totals = [0] * 10
    for hyp, refs in zip(hypotheses, references):
        totals = [a + b for a, b in zip(totals, sentence_stats(hyp, refs))]
    c, r = totals[0], totals[1]
    correct, total = totals[2::2], totals[3::2]
    if not any(correct) or not all(total):
        return 0.0
    product, halvings = 1.0, 0
    for m, t in zip(correct, total):
        if m == 0:
            halvings += 1
            product *= 1 / (2**halvings * t)
        else:
            product *= m / t
    brevity = 1.0 if c >= r else math.exp(1 - r / c)
    return 100 * brevity * product ** (1 / 4)
''',
]


# ======================================================================================
# rouge_n and rouge_l
# ======================================================================================

_ROUGE_N = '''import re
from collections import Counter


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def rouge_n(prediction, reference, n):
    pred, ref = tokenize(prediction), tokenize(reference)
    pred_ngrams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    overlap = sum((pred_ngrams & ref_ngrams).values())
    precision = overlap / max(sum(pred_ngrams.values()), 1)
    recall = overlap / max(sum(ref_ngrams.values()), 1)
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f
'''

ROUGE_N_MISTAKES = [
    (
        "no_lowercasing",
        "your ROUGE-N does not lower-case the texts: rouge-score matches 'The' with 'the'",
        _variant(_ROUGE_N, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[A-Za-z0-9]+", text)')),
    ),
    (
        "set_overlap",
        "your ROUGE-N counts distinct n-grams (a set): an n-gram that occurs twice in both texts matches twice",
        _variant(
            _ROUGE_N,
            ("overlap = sum((pred_ngrams & ref_ngrams).values())", "overlap = len(set(pred_ngrams) & set(ref_ngrams))"),
        ),
    ),
    (
        "precision_recall_swapped",
        "your ROUGE-N swaps precision and recall: precision divides by the prediction's n-grams, recall by the reference's",
        _variant(_ROUGE_N, ("    return precision, recall, f\n", "    return recall, precision, f\n")),
    ),
    (
        "f_arithmetic_mean",
        "your ROUGE-N's f-measure is the arithmetic mean of precision and recall: it is their harmonic mean 2PR/(P+R)",
        _variant(
            _ROUGE_N,
            ("f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)", "f = (precision + recall) / 2"),
        ),
    ),
    (
        "whitespace_tokens",
        "your ROUGE-N splits on whitespace only: rouge-score drops punctuation ('mat.' is the token 'mat')",
        _variant(_ROUGE_N, ('return re.findall(r"[a-z0-9]+", text.lower())', "return text.lower().split()")),
    ),
]

ROUGE_N_ALTERNATIVES = [
    _ROUGE_N,
    # rouge-score's own steps (replace non-alphanumerics by spaces, split), dicts instead of Counter
    '''import re


def rouge_n(prediction, reference, n):
    def ngrams(text):
        words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
        counts = {}
        for i in range(len(words) - n + 1):
            counts[tuple(words[i : i + n])] = counts.get(tuple(words[i : i + n]), 0) + 1
        return counts

    pred, ref = ngrams(prediction), ngrams(reference)
    overlap = sum(min(c, pred.get(g, 0)) for g, c in ref.items())
    n_pred, n_ref = sum(pred.values()), sum(ref.values())
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_ref if n_ref else 0.0
    if precision + recall == 0:
        return precision, recall, 0.0
    return precision, recall, 2 * precision * recall / (precision + recall)
''',
]

_ROUGE_L = '''import re


def tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l(prediction, reference):
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return 0.0, 0.0, 0.0
    length = lcs(pred, ref)
    precision, recall = length / len(pred), length / len(ref)
    f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f
'''

ROUGE_L_MISTAKES = [
    (
        "no_lowercasing",
        "your ROUGE-L does not lower-case the texts: rouge-score matches 'The' with 'the'",
        _variant(_ROUGE_L, ('return re.findall(r"[a-z0-9]+", text.lower())', 'return re.findall(r"[A-Za-z0-9]+", text)')),
    ),
    (
        "lcs_on_characters",
        "your ROUGE-L computes the longest common subsequence of characters: ROUGE-L works on words",
        _variant(
            _ROUGE_L,
            ("    pred, ref = tokenize(prediction), tokenize(reference)\n", '    pred, ref = "".join(tokenize(prediction)), "".join(tokenize(reference))\n'),
        ),
    ),
    (
        "precision_recall_swapped",
        "your ROUGE-L swaps precision and recall: precision divides the LCS by the prediction's length, recall by the reference's",
        _variant(_ROUGE_L, ("precision, recall = length / len(pred), length / len(ref)", "precision, recall = length / len(ref), length / len(pred)")),
    ),
    (
        "f_arithmetic_mean",
        "your ROUGE-L's f-measure is the arithmetic mean of precision and recall: it is their harmonic mean 2PR/(P+R)",
        _variant(_ROUGE_L, ("f = 0.0 if length == 0 else 2 * precision * recall / (precision + recall)", "f = (precision + recall) / 2")),
    ),
    (
        "longest_common_substring",
        "your ROUGE-L uses the longest common *substring* (contiguous words): a subsequence may skip words",
        _variant(
            _ROUGE_L,
            ("                table[i][j] = max(table[i - 1][j], table[i][j - 1])\n    return table[-1][-1]", "                table[i][j] = 0\n    return max(max(row) for row in table)"),
        ),
    ),
]

ROUGE_L_ALTERNATIVES = [
    _ROUGE_L,
    # memoised recursion on the same tokens
    '''import re
from functools import lru_cache


def rouge_l(prediction, reference):
    pred = re.sub(r"[^a-z0-9]+", " ", prediction.lower()).split()
    ref = re.sub(r"[^a-z0-9]+", " ", reference.lower()).split()
    if len(pred) == 0 or len(ref) == 0:
        return (0.0, 0.0, 0.0)

    @lru_cache(maxsize=None)
    def lcs(i, j):  # LCS of pred[i:] and ref[j:]
        if i == len(pred) or j == len(ref):
            return 0
        if pred[i] == ref[j]:
            return 1 + lcs(i + 1, j + 1)
        return max(lcs(i + 1, j), lcs(i, j + 1))

    p = lcs(0, 0) / len(pred)
    r = lcs(0, 0) / len(ref)
    return (p, r, 2 * p * r / (p + r) if p + r > 0 else 0.0)
''',
]


MISTAKES = {  # graded function name -> list of (mistake_id, message naming it for the student, code)
    "perplexity": PERPLEXITY_MISTAKES,
    "sliding_window_perplexity": SLIDING_WINDOW_MISTAKES,
    "bleu": BLEU_MISTAKES,
    "rouge_n": ROUGE_N_MISTAKES,
    "rouge_l": ROUGE_L_MISTAKES,
}

ALTERNATIVES = {  # graded function name -> valid answers written differently
    "perplexity": PERPLEXITY_ALTERNATIVES,
    "sliding_window_perplexity": SLIDING_WINDOW_ALTERNATIVES,
    "bleu": BLEU_ALTERNATIVES,
    "rouge_n": ROUGE_N_ALTERNATIVES,
    "rouge_l": ROUGE_L_ALTERNATIVES,
}
