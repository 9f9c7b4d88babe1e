"""Builds the example turns in one comprehension that zips the roles ("user", "assistant")
with each example pair, and unpacks them between the system message and the query instead of
appending message by message."""


def few_shot_messages(system, examples, query):
    turns = [{"role": role, "content": text} for pair in examples for role, text in zip(("user", "assistant"), pair)]
    return [{"role": "system", "content": system}, *turns, {"role": "user", "content": query}]
