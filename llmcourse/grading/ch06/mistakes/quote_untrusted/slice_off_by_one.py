"""unquote cuts len('<data>') characters from the end: '</data>' is one character longer (quoted[len(OPEN):-len(CLOSE)])"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace("&", "&amp;").replace("<", "&lt;") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(OPEN)]
    return body.replace("&lt;", "<").replace("&amp;", "&")
