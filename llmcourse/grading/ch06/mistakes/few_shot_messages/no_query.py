"""your list ends with the last example: the query must follow, as the last user message"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages
