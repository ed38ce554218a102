"""What a store says reaches the terminal as data, never as markup or control codes.

Everything read from a store is untrusted: an experiment named ``[/bold]x`` must not be
taken for rich markup (rich raises ``MarkupError`` on it), and a name holding ``ESC [2J``
or a right-to-left override must not clear the screen or reorder what the user reads.
Every command prints stored text through :func:`printable` (plain output) or
:func:`markup` (text that goes into a rich console or table); nothing else escapes.
"""

from __future__ import annotations

import unicodedata

__all__ = ["markup", "plural", "printable"]

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Control characters (C0, C1, DEL), format characters (bidi overrides, zero-width), lone
surrogates (which would not even encode), and the line and paragraph separators."""


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object, *, newlines: bool = False) -> str:
    """``str(value)`` with every control or format character shown as ``\\x1b``, ``\\u202e``, ...

    ``newlines=True`` keeps ``\\n`` (a traceback shown on several lines); tabs and carriage
    returns are always escaped, since they move the cursor over what is already written.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to look at character by character
        return text
    out = []
    for char in text:
        if char == "\n" and newlines:
            out.append(char)
        elif not char.isprintable() and unicodedata.category(char) in _ESCAPED_CATEGORIES:
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def markup(value: object, *, newlines: bool = False) -> str:
    """:func:`printable`, then escaped for rich markup: safe inside ``console.print`` and table cells."""
    from rich.markup import escape

    return escape(printable(value, newlines=newlines))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 trial``, ``2 trials``, ``0 trials`` (``nouns`` when the plural is not ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
