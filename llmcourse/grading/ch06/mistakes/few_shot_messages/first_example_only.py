"""only the first example is in your list: every example, in order, is a user turn and then an assistant turn"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples[:1]:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": query})
    return messages
