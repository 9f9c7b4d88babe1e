"""unquote undoes '&amp;' before '&lt;': a text holding '&lt;' comes back as '<'; undo the escapes in the reverse order"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace("&", "&amp;").replace("<", "&lt;") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body.replace("&amp;", "&").replace("&lt;", "<")
