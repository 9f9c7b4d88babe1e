"""you join the values without str(): a number as a field's value raises TypeError"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError(f"missing fields: {missing}; unknown fields: {unknown}")
    return "".join(literal + (fields[name] if name is not None else "") for literal, name, _, _ in parts)
