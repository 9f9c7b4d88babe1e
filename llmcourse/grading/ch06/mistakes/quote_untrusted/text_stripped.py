"""quote_untrusted strips the text: its leading and trailing whitespace are part of it and must come back"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.strip().replace("&", "&amp;").replace("<", "&lt;") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("&lt;", "<").replace("&amp;", "&")
