"""the system prompt is sent as a user message: its role is 'system'"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "user", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": query})
    return messages
