"""Makes each message with a small helper, ``dict(role=..., content=...)``, and flattens the
example turns with ``itertools.chain.from_iterable`` instead of appending them in a loop."""

import itertools


def few_shot_messages(system: str, examples: list[tuple[str, str]], query: str) -> list[dict]:
    def message(role, content):
        return dict(role=role, content=content)

    shots = itertools.chain.from_iterable((message("user", q), message("assistant", a)) for q, a in examples)
    return [message("system", system)] + list(shots) + [message("user", query)]
