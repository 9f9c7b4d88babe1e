"""Graded checks of chapter 06 (prompting), declared for the grading engine.

Test cells call ``check_few_shot_messages(fn)``, ``check_fill_template(fn)`` and
``check_quote_untrusted(fn)`` (visible cases); the hidden part adds ``hidden=True``.

Expected values never come from the course's reference (:mod:`llmcourse.prompting`):

- few-shot messages: message lists built by hand (``few_shot_messages._expected_messages``);
- templates: Python's own template parser, ``string.Formatter().parse``, gives the literal text
  and the fields (``{{``/``}}`` already turned into single braces); the expected text is the
  literals with ``str(value)`` of each field, and the missing / unknown fields are set
  differences;
- quoting: properties, not values: ``unquote(quote_untrusted(t)) == t``, the quoted form starts
  with ``<data>``, ends with ``</data>`` and holds ``</data>`` exactly once, for injection
  strings and random text made of the delimiters' own pieces. ``unquote`` is read from the
  answer's own cell (the function's globals), so both are graded together.

One module per exercise (``few_shot_messages.py``, ``fill_template.py``, ``quote_untrusted.py``:
cases, comparison, forbidden calls, declaration and ``check_*``), what they share in
``common.py``, and each catalogued mistake as an answer file in ``mistakes/<exercise>/<id>.py``
(its docstring is the student's message). The valid alternatives are on the instructor's side,
``autograde/alternatives/ch06/``. The mutation suite (``make mutants``) grades every mistake and
alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .few_shot_messages import FEW_SHOT_MESSAGES, check_few_shot_messages
from .fill_template import FILL_TEMPLATE, check_fill_template
from .quote_untrusted import ATTACKS, CLOSE, OPEN, QUOTE_UNTRUSTED, check_quote_untrusted

EXERCISES: dict[str, Exercise] = {
    "few_shot_messages": FEW_SHOT_MESSAGES,
    "fill_template": FILL_TEMPLATE,
    "quote_untrusted": QUOTE_UNTRUSTED,
}

__all__ = [
    "ATTACKS",
    "CLOSE",
    "EXERCISES",
    "FEW_SHOT_MESSAGES",
    "FILL_TEMPLATE",
    "OPEN",
    "QUOTE_UNTRUSTED",
    "check_few_shot_messages",
    "check_fill_template",
    "check_quote_untrusted",
]
