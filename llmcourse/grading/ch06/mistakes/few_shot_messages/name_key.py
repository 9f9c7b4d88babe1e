"""your example messages carry an extra 'name' key (example_user, example_assistant): each message has exactly the keys 'role' and 'content'"""


def few_shot_messages(system, examples, query):
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages.append({"role": "user", "content": user, "name": "example_user"})
        messages.append({"role": "assistant", "content": assistant, "name": "example_assistant"})
    messages.append({"role": "user", "content": query})
    return messages
