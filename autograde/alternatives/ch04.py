"""The valid alternatives of chapter 04_evaluating_llms's graded exercises (``llmcourse.grading.ch04``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch04.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "perplexity": (
        # explicit loops, float64
        r'''import math
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
''',
        # F.cross_entropy with labels -100 at the padding, as Hugging Face does
        r'''import torch
import torch.nn.functional as F


def perplexity(logits, input_ids, attention_mask=None):
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    shift_logits = logits[:, :-1, :].contiguous()
    shift_labels = labels[:, 1:].contiguous()
    loss = F.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1), ignore_index=-100)
    return torch.exp(loss).item()
''',
        # gather and a weighted sum
        r'''import torch


def perplexity(logits, input_ids, attention_mask=None):
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    log_probs = logits.log_softmax(-1)[:, :-1]
    token_log_probs = log_probs.gather(2, input_ids[:, 1:, None])[..., 0]
    weights = attention_mask[:, 1:].to(log_probs.dtype)
    return torch.exp(-(token_log_probs * weights).sum() / weights.sum()).item()
''',
    ),
    "sliding_window": (
        # a loop over the tokens each window scores, explicit log-probabilities
        r'''import math
import torch
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    logits_of = logits_fn(model)
    ids = input_ids[0]
    N = len(ids)
    total, scored = 0.0, 0
    start, next_to_score = 0, 1
    with torch.no_grad():
        while next_to_score < N:
            end = min(start + max_length, N)
            log_probs = torch.log_softmax(logits_of(ids[start:end][None])[0].double(), dim=-1)
            for t in range(next_to_score, end):
                total -= log_probs[t - 1 - start, ids[t]].item()  # position t-1 predicts token t
                scored += 1
            next_to_score = end
            start += stride
    return math.exp(total / scored)
''',
        # the guide's labels with -100, but summed with F.cross_entropy and counted exactly
        r'''import math
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
''',
        # first the windows (begin, end, first scored position), then one pass over them
        r'''import math
import torch
from llmcourse.models import logits_fn


def sliding_window_perplexity(model, input_ids, max_length, stride):
    N = input_ids.shape[-1]
    windows, scored_up_to = [], 1  # the first token is never scored
    for begin in range(0, N, stride):
        end = min(begin + max_length, N)
        windows.append((begin, end, scored_up_to))
        scored_up_to = end
        if end == N:
            break
    logits_of = logits_fn(model)
    nlls = []
    with torch.no_grad():
        for begin, end, first in windows:
            log_probs = logits_of(input_ids[:, begin:end]).float().log_softmax(-1)[0]  # (W, V)
            rows = torch.arange(first - 1 - begin, end - 1 - begin)
            nlls.append(-log_probs[rows, input_ids[0, first:end]])
    return torch.cat(nlls).mean().exp().item()
''',
    ),
    "bleu": (
        r'''import math
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


def ngram_counts(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses, references):
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("need one list of references per hypothesis, and at least one hypothesis")
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
''',
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
    if len(hypotheses) == 0:
        raise ValueError("no hypotheses")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} lists of references")
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
    ),
    "rouge_n": (
        r'''import re
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
''',
        # rouge-score's own steps (replace non-alphanumerics by spaces, split), dicts instead of Counter
        r'''import re


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
    ),
    "rouge_l": (
        r'''import re


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
''',
        # memoised recursion on the same tokens
        r'''import re
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
    ),
    "score_choices": (
        # every choice in one batch, padded on the right, F.cross_entropy on the choice's tokens
        r'''import torch
import torch.nn.functional as F


def score_choices(logits_fn, context_ids, choice_ids):
    n = len(context_ids)
    rows = [list(context_ids) + list(choice) for choice in choice_ids]
    T = max(len(row) for row in rows)
    padded = torch.tensor([row + [0] * (T - len(row)) for row in rows])  # (K, T): padding after every scored token
    with torch.no_grad():
        logits = logits_fn(padded)  # (K, T, V)
    scores = []
    for k, row in enumerate(rows):
        targets = padded[k, n : len(row)]  # (m,): the choice's tokens
        nll = F.cross_entropy(logits[k, n - 1 : len(row) - 1].double(), targets, reduction="sum")
        scores.append(-nll.item())
    return scores
''',
        # token by token: the model sees the context and the choice's earlier tokens, and the last position predicts
        r'''import math
import torch


def score_choices(logits_fn, context_ids, choice_ids):
    scores = []
    for choice in choice_ids:
        total = 0.0
        for k, token in enumerate(choice):
            prefix = torch.tensor([list(context_ids) + list(choice[:k])])  # (1, n + k)
            with torch.no_grad():
                last = logits_fn(prefix)[0, -1].double()  # (V,): the next token's logits
            total += (last[token] - torch.logsumexp(last, dim=0)).item()
        scores.append(total)
    return scores
''',
        # log_softmax and advanced indexing, one forward pass per choice
        r'''import torch


def score_choices(logits_fn, context_ids, choice_ids):
    result = []
    for choice in choice_ids:
        ids = torch.tensor(context_ids + choice).unsqueeze(0)  # (1, T)
        log_probs = logits_fn(ids).squeeze(0).log_softmax(dim=-1)  # (T, V)
        positions = torch.arange(len(context_ids) - 1, ids.shape[1] - 1)  # each predicts the token after it
        result.append(float(log_probs[positions, ids[0, positions + 1]].sum()))
    return result
''',
    ),
    "accuracy": (
        # numpy's argmax (the first maximum), as lm-evaluation-harness writes it
        r'''import numpy as np


def accuracy(items):
    acc, acc_norm, acc_bytes = [], [], []
    for lls, choices, gold in items:
        lls = np.array(lls, dtype=float)
        chars = np.array([len(c) for c in choices], dtype=float)
        utf8 = np.array([len(c.encode("utf-8")) for c in choices], dtype=float)
        acc.append(np.argmax(lls) == gold)
        acc_norm.append(np.argmax(lls / chars) == gold)
        acc_bytes.append(np.argmax(lls / utf8) == gold)
    return {"acc": float(np.mean(acc)), "acc_norm": float(np.mean(acc_norm)), "acc_bytes": float(np.mean(acc_bytes))}
''',
        # one helper per normalisation, max over the indices (max keeps the first of equal keys)
        r'''def best(scores, lengths):
    return max(range(len(scores)), key=lambda k: scores[k] / lengths[k])


def accuracy(items):
    totals = {"acc": 0.0, "acc_norm": 0.0, "acc_bytes": 0.0}
    for scores, choices, gold in items:
        totals["acc"] += best(scores, [1] * len(choices)) == gold
        totals["acc_norm"] += best(scores, [len(c) for c in choices]) == gold
        totals["acc_bytes"] += best(scores, [len(bytes(c, "utf-8")) for c in choices]) == gold
    n = len(items)
    return {name: total / n for name, total in totals.items()}
''',
        # torch: argmax of a 2-D tensor, one row per normalisation (torch.argmax also returns the first maximum)
        r'''import torch


def accuracy(items):
    right = torch.zeros(3, dtype=torch.float64)
    for scores, choices, gold in items:
        s = torch.tensor(scores, dtype=torch.float64)
        lengths = torch.tensor([[1.0] * len(choices), [len(c) for c in choices], [len(c.encode()) for c in choices]], dtype=torch.float64)
        right += (torch.argmax(s / lengths, dim=1) == gold).double()
    acc, acc_norm, acc_bytes = (right / len(items)).tolist()
    return {"acc": acc, "acc_norm": acc_norm, "acc_bytes": acc_bytes}
''',
    ),
}
