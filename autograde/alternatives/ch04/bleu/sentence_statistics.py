"""Plain dicts of space-joined n-grams; each sentence gives a vector of lengths and per-order matches and totals, summed over the corpus, and the geometric mean is a product raised to 1/4."""

import math
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
