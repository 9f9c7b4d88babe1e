"""you call template.format(**fields) as it is: a missing field raises KeyError naming only the first one, and unknown fields are silently ignored; check the fields first and raise a ValueError naming them all"""


def fill_template(template, **fields):
    return template.format(**fields)
