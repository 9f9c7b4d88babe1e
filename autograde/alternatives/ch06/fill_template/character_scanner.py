"""Scans the template character by character, turning ``{{`` and ``}}`` into single braces
and collecting each ``{name}``, without ``string.Formatter`` or ``str.format``."""


def fill_template(template, **fields):
    out, names, i = [], [], 0
    while i < len(template):
        c = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            out.append(c)
            i += 2
        elif c == "{":
            j = template.index("}", i)
            names.append(template[i + 1 : j])
            out.append((template[i + 1 : j],))
            i = j + 1
        else:
            out.append(c)
            i += 1
    missing = [n for n in names if n not in fields]
    unknown = [n for n in fields if n not in names]
    if missing or unknown:
        raise ValueError("missing: " + ", ".join(missing) + " / unknown: " + ", ".join(unknown))
    return "".join(str(fields[p[0]]) if isinstance(p, tuple) else p for p in out)
