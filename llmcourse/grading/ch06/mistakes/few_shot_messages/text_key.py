"""your messages hold the text under 'text': the chat format's key is 'content'"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "text": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "text": user})
        messages.append({"role": "assistant", "text": assistant})
    messages.append({"role": "user", "text": query})
    return messages
