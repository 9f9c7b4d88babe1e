"""your quoted form has no closing '</data>': it starts with <data> and ends with </data>"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace("&", "&amp;").replace("<", "&lt;")


def unquote(quoted):
    body = quoted[len(OPEN) :]
    return body.replace("&lt;", "<").replace("&amp;", "&")
