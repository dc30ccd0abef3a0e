"""What the admin pages read and write, one module per idea; the views hold no SQL.

Each function takes an open connection (the view opens the transaction) and returns
rows or plain values; ``tests/test_layering.py`` checks that no view module builds SQL.
"""


def contains(text: str) -> str:
    """A LIKE pattern (escape ``\\``) for values containing *text* literally."""
    return (
        "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    )
