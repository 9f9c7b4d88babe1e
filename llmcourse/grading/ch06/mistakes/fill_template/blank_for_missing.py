"""a missing field becomes an empty string (format_map with a defaultdict, or .get(name, '')): raise a ValueError naming every missing field"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if unknown:
        raise ValueError(f"missing fields: {missing}; unknown fields: {unknown}")
    return "".join(literal + (str(fields.get(name, "")) if name is not None else "") for literal, name, _, _ in parts)
