"""values are expanded again after they are inserted (a value holding '{b}' or '{{' changes): insert each value as it is"""

import string


def fill_template(template, **fields):
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name is not None]
    missing = [n for n in dict.fromkeys(names) if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError(f"missing fields: {missing}; unknown fields: {unknown}")
    for name, value in fields.items():
        template = template.replace("{" + name + "}", str(value))
    return template.replace("{{", "{").replace("}}", "}")
