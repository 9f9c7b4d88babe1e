r"""you escape only the exact string '</data>' (as '<\\/data>') and not the escape itself: a text that holds '<\\/data>' does not come back"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace(CLOSE, "<\\/data>") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("<\\/data>", CLOSE)
