"""you delete '</data>' from the text: safe, but unquote cannot give the text back"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text.replace(CLOSE, "") + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body
