"""you put the text between the delimiters as it is: a text holding '</data>' ends the data early and what follows reads as instructions (a delimiter attack)"""

OPEN, CLOSE = "<data>", "</data>"


def quote_untrusted(text):
    return OPEN + text + CLOSE


def unquote(quoted):
    body = quoted[len(OPEN) : len(quoted) - len(CLOSE)]
    return body
