"""you escape '<' as '&lt;' but not '&' itself: a text that already holds '&lt;' comes back as '<'"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace("<", "&lt;") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("&lt;", "<")
