"""each example is an assistant turn and then a user turn: the user asks (the example's input) and the assistant answers"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "assistant", "content": user})
        messages.append({"role": "user", "content": assistant})
    messages.append({"role": "user", "content": query})
    return messages
