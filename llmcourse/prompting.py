"""Prompting helpers (chapter 06): chat messages, templates, quoting untrusted text.

    few_shot_messages(system, examples, query)  # OpenAI chat format, examples as user/assistant turns
    fill_template("Dear {name}, {{not a field}}", name="Ada")
    quote_untrusted(text) / unquote(quoted)      # data between <data> and </data>, escaped

These are the course's reference answers to the chapter's graded exercises; the checks
(:mod:`llmcourse.grading.ch06`) never use them as oracles.
"""

from __future__ import annotations

import string

__all__ = ["CLOSE", "OPEN", "few_shot_messages", "fill_template", "quote_untrusted", "template_fields", "unquote"]

OPEN = "<data>"
CLOSE = "</data>"


def few_shot_messages(system: str, examples: list[tuple[str, str]], query: str) -> list[dict]:
    """``[system, user, assistant, user, assistant, ..., user(query)]`` as OpenAI chat messages."""
    messages = [{"role": "system", "content": system}]
    for question, answer in examples:
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": query})
    return messages


def template_fields(template: str) -> list[str]:
    """The names of the ``{name}`` fields of a template, in order of first appearance.

    ``{{`` and ``}}`` are literal braces. Raises ValueError for an unmatched brace or a field
    that is not a plain name (``{0}``, ``{a.b}``, ``{x:>5}``, ``{x!r}``).
    """
    fields: list[str] = []
    for _, name, spec, conversion in string.Formatter().parse(template):  # ValueError on unmatched braces
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(
                f"template field {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is "
                f"not a plain {{name}}"
            )
        if name not in fields:
            fields.append(name)
    return fields


def fill_template(template: str, **fields) -> str:
    """Replace every ``{name}`` by ``str(fields[name])``; ``{{``/``}}`` give literal braces.

    Raises ValueError naming every missing field (in the template, not given) and every unknown
    one (given, not in the template). Values are inserted as they are: braces inside a value
    are not expanded again.
    """
    names = template_fields(template)
    missing = [n for n in names if n not in fields]
    unknown = [n for n in fields if n not in names]
    problems = []
    if missing:
        problems.append("missing field(s): " + ", ".join(missing))
    if unknown:
        problems.append("unknown field(s): " + ", ".join(unknown))
    if problems:
        raise ValueError("; ".join(problems))
    return template.format_map(fields)


def quote_untrusted(text: str) -> str:
    """``text`` between ``<data>`` and ``</data>``, with ``&`` and ``<`` escaped (``&amp;``, ``&lt;``).

    The escaped text holds no ``<``, so ``</data>`` occurs exactly once, at the end, whatever
    ``text`` contains; :func:`unquote` gives ``text`` back.
    """
    return OPEN + text.replace("&", "&amp;").replace("<", "&lt;") + CLOSE


def unquote(quoted: str) -> str:
    """The inverse of :func:`quote_untrusted`."""
    if not (quoted.startswith(OPEN) and quoted.endswith(CLOSE)):
        raise ValueError(f"not quoted text: it must start with {OPEN} and end with {CLOSE}")
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("&lt;", "<").replace("&amp;", "&")
