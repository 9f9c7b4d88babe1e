"""The valid alternatives of chapter 06_prompting's graded exercises (``llmcourse.grading.ch06``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch06.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "few_shot_messages": (
        r'''def few_shot_messages(system, examples, query):
    turns = [{"role": role, "content": text} for pair in examples for role, text in zip(("user", "assistant"), pair)]
    return [{"role": "system", "content": system}, *turns, {"role": "user", "content": query}]
''',
        r'''import itertools

def few_shot_messages(system: str, examples: list[tuple[str, str]], query: str) -> list[dict]:
    def message(role, content):
        return dict(role=role, content=content)
    shots = itertools.chain.from_iterable((message("user", q), message("assistant", a)) for q, a in examples)
    return [message("system", system)] + list(shots) + [message("user", query)]
''',
    ),
    "fill_template": (
        # the template parsed by hand with a regular expression
        r'''import re

def fill_template(template: str, **fields) -> str:
    tokens = re.findall(r"\{\{|\}\}|\{[^{}]*\}|[^{}]+|[{}]", template)
    names = [t[1:-1] for t in tokens if t.startswith("{") and t.endswith("}") and t not in ("{{", "}}") and len(t) > 1]
    missing = sorted(set(names) - set(fields))
    unknown = sorted(set(fields) - set(names))
    problems = ([f"missing: {', '.join(missing)}"] if missing else []) + ([f"unknown: {', '.join(unknown)}"] if unknown else [])
    if problems:
        raise ValueError("; ".join(problems))
    out = []
    for t in tokens:
        if t == "{{":
            out.append("{")
        elif t == "}}":
            out.append("}")
        elif t.startswith("{") and len(t) > 1:
            out.append(str(fields[t[1:-1]]))
        else:
            out.append(t)
    return "".join(out)
''',
        # string.Formatter, the output joined from its pieces
        r'''from string import Formatter

def fill_template(template, **fields):
    pieces = list(Formatter().parse(template))
    used = {field for _, field, _, _ in pieces if field is not None}
    bad = [f"missing field {n!r}" for n in sorted(used - fields.keys())] + [f"unknown field {n!r}" for n in sorted(fields.keys() - used)]
    if bad:
        raise ValueError(", ".join(bad))
    return "".join(text + ("" if field is None else str(fields[field])) for text, field, _, _ in pieces)
''',
        # a character loop
        r'''def fill_template(template, **fields):
    out, names, i = [], [], 0
    while i < len(template):
        c = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            out.append(c)
            i += 2
        elif c == "{":
            j = template.index("}", i)
            names.append(template[i + 1:j])
            out.append((template[i + 1:j],))
            i = j + 1
        else:
            out.append(c)
            i += 1
    missing = [n for n in names if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError("missing: " + ", ".join(missing) + " / unknown: " + ", ".join(unknown))
    return "".join(str(fields[p[0]]) if isinstance(p, tuple) else p for p in out)
''',
    ),
    "quote_untrusted": (
        # html.escape / html.unescape
        r'''import html

def quote_untrusted(text: str) -> str:
    return "<data>" + html.escape(text, quote=False) + "</data>"

def unquote(quoted: str) -> str:
    return html.unescape(quoted[len("<data>"):-len("</data>")])
''',
        # backslash escapes, read back with a regular expression
        r'''import re

def quote_untrusted(text):
    return "<data>" + text.replace("\\", "\\\\").replace("<", "\\l") + "</data>"

def unquote(quoted):
    body = quoted.removeprefix("<data>").removesuffix("</data>")
    return re.sub(r"\\(.)", lambda m: "<" if m.group(1) == "l" else m.group(1), body, flags=re.S)
''',
        # JSON string escapes with '<' as \\u003c
        r'''import json

def quote_untrusted(text):
    return "<data>" + json.dumps(text).replace("<", "\\u003c") + "</data>"

def unquote(quoted):
    return json.loads(quoted[6:-7])
''',
    ),
}
