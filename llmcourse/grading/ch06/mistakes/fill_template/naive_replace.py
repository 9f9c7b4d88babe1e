"""you replace each '{name}' with str.replace: '{{' and '}}' stay doubled, a field's value can be replaced again, and missing or unknown fields go unnoticed"""


def fill_template(template, **fields):
    for name, value in fields.items():
        template = template.replace("{" + name + "}", str(value))
    return template
