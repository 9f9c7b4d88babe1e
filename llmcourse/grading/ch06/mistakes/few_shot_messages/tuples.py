"""your messages are (role, content) tuples: the OpenAI chat format wants dicts {'role': ..., 'content': ...}"""


def few_shot_messages(system, examples, query):
    messages = [("system", system)]
    for user, assistant in examples:
        messages += [("user", user), ("assistant", assistant)]
    return messages + [("user", query)]
