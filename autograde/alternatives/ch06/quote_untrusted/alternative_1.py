"""Valid alternative 1 of quote_untrusted."""

import html


def quote_untrusted(text: str) -> str:
    return "<data>" + html.escape(text, quote=False) + "</data>"


def unquote(quoted: str) -> str:
    return html.unescape(quoted[len("<data>") : -len("</data>")])
