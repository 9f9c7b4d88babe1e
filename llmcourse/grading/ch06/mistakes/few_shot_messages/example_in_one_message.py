"""each example is one user message holding question and answer: the answer must be an assistant turn of its own"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user + "\n" + assistant})
    messages.append({"role": "user", "content": query})
    return messages
