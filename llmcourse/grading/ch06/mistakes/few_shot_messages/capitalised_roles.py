"""your roles are capitalised ('System', 'User', 'Assistant'): the chat format's roles are lower-case 'system', 'user' and 'assistant'"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "System", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "User", "content": user})
        messages.append({"role": "Assistant", "content": assistant})
    messages.append({"role": "User", "content": query})
    return messages
