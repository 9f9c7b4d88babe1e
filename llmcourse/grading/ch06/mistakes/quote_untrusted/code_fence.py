"""you fence the text with ``` instead of the <data> ... </data> delimiters the exercise asks for"""


def quote_untrusted(text):
    return "```\n" + text.replace("`", "\\`") + "\n```"


def unquote(quoted):
    return quoted[4:-4].replace("\\`", "`")
