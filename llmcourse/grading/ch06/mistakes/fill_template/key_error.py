"""you raise KeyError: the exercise asks for a ValueError naming the fields"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise KeyError(f"missing fields: {missing}; unknown fields: {unknown}")
    return template.format_map(fields)
