"""the system message comes last: it is the first message, before the examples and the query"""


def few_shot_messages(system, examples, query):
    messages = []
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages + [{"role": "user", "content": query}, {"role": "system", "content": system}]
