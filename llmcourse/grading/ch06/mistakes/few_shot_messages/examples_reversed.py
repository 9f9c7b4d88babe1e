"""your examples come in reverse order: keep the order they were given in"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in reversed(examples):
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": query})
    return messages
