"""Reads the fields with ``string.Formatter().parse`` as the solution does, but finds the
fields at fault with set differences and joins the literals and ``str(value)`` itself instead
of calling ``format_map``."""

from string import Formatter


def fill_template(template, **fields):
    pieces = list(Formatter().parse(template))
    used = {field for _, field, _, _ in pieces if field is not None}
    bad = [f"missing field {n!r}" for n in sorted(used - fields.keys())] + [
        f"unknown field {n!r}" for n in sorted(fields.keys() - used)
    ]
    if bad:
        raise ValueError(", ".join(bad))
    return "".join(text + ("" if field is None else str(fields[field])) for text, field, _, _ in pieces)
