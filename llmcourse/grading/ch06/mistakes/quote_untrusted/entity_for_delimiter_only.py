"""you escape only '</data>' itself (as '&lt;/data>') and not '&': a text that already holds '&lt;/data>' comes back as '</data>'"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace(CLOSE, "&lt;/data>") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("&lt;/data>", CLOSE)
