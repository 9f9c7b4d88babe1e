"""Graded checks of chapter 04 (evaluating LLMs), declared for the grading engine.

Test cells call ``check_perplexity(fn)``, ``check_sliding_window_perplexity(fn)``, ``check_bleu(fn)``,
``check_rouge_n(fn)``, ``check_rouge_l(fn)``, ``check_score_choices(fn)`` and ``check_accuracy(fn)``
(visible cases); the hidden part adds ``hidden=True``.

Expected values come from independent oracles, never from the course's reference
(:mod:`llmcourse.metrics`, :mod:`llmcourse.text_metrics`):

- perplexity: ``torch.nn.functional.cross_entropy`` in float64 with the padding labelled -100
  (what a Hugging Face causal LM's loss does);
- sliding-window perplexity: small random ``GPT2LMHeadModel``\\ s (fixed seeds), each token scored on
  its own by a forward pass over the context its window gives it, and the model's own loss when
  the text fits one window;
- BLEU: ``sacrebleu.corpus_bleu`` with its defaults; ROUGE: ``rouge_score``'s ``RougeScorer``
  without stemming;
- multiple-choice scores: small random ``GPT2LMHeadModel``\\ s in float64, each choice's log-likelihood
  minus the cross-entropy of the context + choice with the context's labels -100; acc, acc_norm and
  acc_bytes: lm-evaluation-harness's definitions (``process_results`` for multiple_choice) in numpy.

One module per exercise (``perplexity.py``, ``sliding_window.py``, ``bleu.py``, ``rouge_n.py``,
``rouge_l.py``, ``score_choices.py``, ``accuracy.py``: cases, comparison, forbidden calls,
declaration and ``check_*``), what they share in ``common.py``, and each catalogued mistake as an
answer file in ``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid
alternatives are on the instructor's side, ``autograde/alternatives/ch04/``. The mutation suite
(``make mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise
from llmcourse.grading.runners.ch04 import tiny_model

from .accuracy import _ACC_VISIBLE, ACCURACY, _acc_oracle, _acc_random, check_accuracy
from .bleu import BLEU, _bleu_oracle, _bleu_random, check_bleu
from .common import rouge_oracle as _rouge_oracle
from .common import rouge_random as _rouge_random
from .common import tiny_weights
from .perplexity import PERPLEXITY, _ppl_oracle, check_perplexity
from .rouge_l import ROUGE_L, check_rouge_l
from .rouge_n import ROUGE_N, check_rouge_n
from .score_choices import SCORE_CHOICES, check_score_choices
from .sliding_window import SLIDING_WINDOW, _sw_oracle, check_sliding_window_perplexity

EXERCISES: dict[str, Exercise] = {
    "perplexity": PERPLEXITY,
    "sliding_window": SLIDING_WINDOW,
    "bleu": BLEU,
    "rouge_n": ROUGE_N,
    "rouge_l": ROUGE_L,
    "score_choices": SCORE_CHOICES,
    "accuracy": ACCURACY,
}

__all__ = [
    "ACCURACY",
    "BLEU",
    "EXERCISES",
    "PERPLEXITY",
    "ROUGE_L",
    "ROUGE_N",
    "SCORE_CHOICES",
    "SLIDING_WINDOW",
    "check_accuracy",
    "check_bleu",
    "check_perplexity",
    "check_rouge_l",
    "check_rouge_n",
    "check_score_choices",
    "check_sliding_window_perplexity",
    "tiny_model",
    "tiny_weights",
    # the oracles, random inputs and visible items tests/test_grading_ch04.py reaches as ch04.<name>
    "_ACC_VISIBLE",
    "_acc_oracle",
    "_acc_random",
    "_bleu_oracle",
    "_bleu_random",
    "_ppl_oracle",
    "_rouge_oracle",
    "_rouge_random",
    "_sw_oracle",
]
