"""Valid alternative 3 of quote_untrusted."""

import json


def quote_untrusted(text):
    return "<data>" + json.dumps(text).replace("<", "\\u003c") + "</data>"


def unquote(quoted):
    return json.loads(quoted[6:-7])
