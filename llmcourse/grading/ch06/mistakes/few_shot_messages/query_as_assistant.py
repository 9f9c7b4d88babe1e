"""the query is sent as an assistant message: it is the user's turn"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "assistant", "content": query})
    return messages
