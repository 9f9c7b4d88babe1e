"""your ValueError names only the first missing field: name every one of them"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    for n in missing:
        raise ValueError(f"missing field: {n}")
    if unknown:
        raise ValueError(f"unknown fields: {unknown}")
    return template.format_map(fields)
