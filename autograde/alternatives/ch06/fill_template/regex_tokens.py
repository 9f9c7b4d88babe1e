"""Splits the template with a regular expression into ``{{``, ``}}``, ``{name}`` and plain text
instead of using ``string.Formatter().parse``, and builds the result token by token."""

import re


def fill_template(template: str, **fields) -> str:
    tokens = re.findall(r"\{\{|\}\}|\{[^{}]*\}|[^{}]+|[{}]", template)
    names = [t[1:-1] for t in tokens if t.startswith("{") and t.endswith("}") and t not in ("{{", "}}") and len(t) > 1]
    missing = sorted(set(names) - set(fields))
    unknown = sorted(set(fields) - set(names))
    problems = ([f"missing: {', '.join(missing)}"] if missing else []) + (
        [f"unknown: {', '.join(unknown)}"] if unknown else []
    )
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
