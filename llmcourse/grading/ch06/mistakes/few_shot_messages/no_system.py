"""your list has no system message: it must start with {'role': 'system', 'content': system}"""


def few_shot_messages(system, examples, query):
    messages = []
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": query})
    return messages
