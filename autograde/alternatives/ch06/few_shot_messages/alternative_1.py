"""Valid alternative 1 of few_shot_messages."""


def few_shot_messages(system, examples, query):
    turns = [{"role": role, "content": text} for pair in examples for role, text in zip(("user", "assistant"), pair)]
    return [{"role": "system", "content": system}, *turns, {"role": "user", "content": query}]
