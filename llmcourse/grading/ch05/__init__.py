"""Graded checks of chapter 05 (controlling LLM outputs), declared for the grading engine.

Test cells call ``check_apply_temperature(fn)``, ``check_top_k_filter(fn)``, ``check_top_p_filter(fn)``,
``check_apply_repetition_penalty(fn)``, ``check_apply_frequency_presence_penalties(fn)``,
``check_greedy_decode(fn)``, ``check_generate_with_cache(fn)``, ``check_beam_search(fn)`` and
``check_generate_until(fn)`` (visible cases); the hidden part adds ``hidden=True``.

Expected values come from an independent oracle, never from :mod:`llmcourse.decoding`:

- the logits processors: Hugging Face's ``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
  ``TopPLogitsWarper`` and ``RepetitionPenaltyLogitsProcessor``; a plain loop over the tokens for
  the OpenAI API's frequency and presence penalties;
- the decoders: Hugging Face's ``generate`` on small seeded random GPT-2 models (greedy, greedy
  recomputing the whole sequence for the KV-cache exercise, whose forwards a wrapped model records; beam
  search) and on the course's ``course-gpt`` (stop strings, where real text matters), the stop
  strings searched in the text of the tokens ``generate`` produced, one token at a time.

The student's process gets only inputs: logits and ids as tensors, a random model as the seed and
sizes it is rebuilt from (:func:`~llmcourse.grading.runners.ch05.tiny_model`), the course model by name.

One module per exercise (``temperature.py``, ``top_k.py``, ``top_p.py``, ``repetition_penalty.py``,
``frequency_presence.py``, ``greedy.py``, ``cached.py``, ``beam_search.py``, ``generate_until.py``:
cases, comparison, declaration and ``check_*``), what they share in ``common.py`` (the forbidden
calls, the processors' inputs and comparisons, Hugging Face's ``generate`` and the comparison of
token ids), and each catalogued mistake as an answer file in ``mistakes/<exercise>/<id>.py`` (its
docstring is the student's message). The valid alternatives are on the instructor's side,
``autograde/alternatives/ch05/``. The mutation suite (``make mutants``) grades every mistake and
alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise
from llmcourse.grading.runners.ch05 import course_model, tiny_model

from .beam_search import BEAM, check_beam_search
from .cached import CACHED, _pairs, check_generate_with_cache
from .common import FORBIDDEN, PEAKED, random_logits, repeated_ids
from .common import fields as _fields
from .common import hf_generate as _hf_generate
from .common import prompts as _prompts
from .frequency_presence import PENALTIES, check_apply_frequency_presence_penalties, frequency_presence_loop
from .generate_until import ANNA, HANA, UNTIL, check_generate_until
from .greedy import GREEDY, check_greedy_decode
from .repetition_penalty import REPETITION, _repetition_oracle, check_apply_repetition_penalty
from .temperature import TEMPERATURE, _temperature_oracle, check_apply_temperature
from .top_k import TOP_K, _top_k_oracle, check_top_k_filter
from .top_p import TOP_P, _nucleus_margin, _top_p_oracle, check_top_p_filter

EXERCISES: dict[str, Exercise] = {
    "temperature": TEMPERATURE,
    "top_k": TOP_K,
    "top_p": TOP_P,
    "repetition_penalty": REPETITION,
    "frequency_presence": PENALTIES,
    "greedy": GREEDY,
    "cached": CACHED,
    "beam_search": BEAM,
    "generate_until": UNTIL,
}

__all__ = [
    "ANNA",
    "BEAM",
    "CACHED",
    "EXERCISES",
    "FORBIDDEN",
    "GREEDY",
    "HANA",
    "PEAKED",
    "PENALTIES",
    "REPETITION",
    "TEMPERATURE",
    "TOP_K",
    "TOP_P",
    "UNTIL",
    "check_apply_frequency_presence_penalties",
    "check_apply_repetition_penalty",
    "check_apply_temperature",
    "check_beam_search",
    "check_generate_until",
    "check_generate_with_cache",
    "check_greedy_decode",
    "check_top_k_filter",
    "check_top_p_filter",
    "course_model",
    "frequency_presence_loop",
    "random_logits",
    "repeated_ids",
    "tiny_model",
    # helpers tests/test_grading_ch05.py reaches as ``ch05._name`` (their names before the split)
    "_fields",
    "_hf_generate",
    "_nucleus_margin",
    "_pairs",
    "_prompts",
    "_repetition_oracle",
    "_temperature_oracle",
    "_top_k_oracle",
    "_top_p_oracle",
]
