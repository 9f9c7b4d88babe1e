"""Clips with explicit loops (each n-gram's largest count in one reference, then the min with the hypothesis's), smooths with a divisor k doubled per order without a match, and takes the logs of the precisions only at the end."""

import math
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
