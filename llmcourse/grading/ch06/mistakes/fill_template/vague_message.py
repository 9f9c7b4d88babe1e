"""your ValueError does not say which fields are at fault: its message must name every missing and every unknown field"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError("the fields do not match the template")
    return template.format_map(fields)
