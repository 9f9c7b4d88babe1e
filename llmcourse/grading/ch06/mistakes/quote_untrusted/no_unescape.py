"""unquote removes the delimiters but does not undo the escaping: '&lt;' must become '<' again, and '&amp;' '&'"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace("&", "&amp;").replace("<", "&lt;") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body
