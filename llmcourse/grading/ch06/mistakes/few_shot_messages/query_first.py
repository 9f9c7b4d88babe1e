"""the query comes before the examples: it must be the last message"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}, {"role": "user", "content": query}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages
