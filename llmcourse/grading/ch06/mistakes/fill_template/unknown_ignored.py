"""a keyword argument that is not a field of the template is silently ignored: raise a ValueError naming it (it is usually a typo, e.g. topc=...)"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing:
        raise ValueError(f"missing fields: {missing}; unknown fields: {unknown}")
    return template.format_map(fields)
