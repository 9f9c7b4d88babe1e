"""Escapes with ``html.escape(text, quote=False)`` and undoes it with ``html.unescape``
instead of replacing ``&`` and ``<`` by hand."""

import html


def quote_untrusted(text: str) -> str:
    return "<data>" + html.escape(text, quote=False) + "</data>"


def unquote(quoted: str) -> str:
    return html.unescape(quoted[len("<data>") : -len("</data>")])
