"""unquote strips whitespace: leading and trailing spaces and newlines of the text are lost"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + "\n" + text.replace("&", "&amp;").replace("<", "&lt;") + "\n" + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.strip().replace("&lt;", "<").replace("&amp;", "&")
