"""What a store says reaches the terminal as data, never as markup or control codes.

Everything read from a store is untrusted: an experiment named ``[/bold]x`` must not be
taken for rich markup (rich raises ``MarkupError`` on it), and a name holding ``ESC [2J``
or a right-to-left override must not clear the screen or reorder what the user reads.
Every command prints stored text through :func:`printable` (plain output) or
:func:`markup` (text that goes into a rich console or table); nothing else escapes.
"""

from __future__ import annotations

import unicodedata

__all__ = ["json_safe", "markup", "plural", "printable"]

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


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character past the BMP as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(data: bytes) -> bytes:
    """JSON text with every control or format character as a ``\\uXXXX`` escape: the same JSON value.

    orjson escapes C0 controls but writes DEL, C1 controls (``\\x9b`` is a terminal's CSI)
    and format characters (bidi overrides) as they are; JSON allows them escaped, so a dump
    or ``--format json`` read on a terminal shows them as text, and parses to the same values.
    Newlines are kept: outside strings they are layout, inside them orjson already escaped them.
    """
    if data.isascii() and b"\x7f" not in data:  # the common case, at C speed
        return data
    text = data.decode("utf-8", "surrogatepass")
    out = []
    for char in text:
        if char != "\n" and (
            char == "\x7f" or (not char.isprintable() and unicodedata.category(char) in _ESCAPED_CATEGORIES)
        ):
            out.append(_json_escape(char))
        else:
            out.append(char)
    return "".join(out).encode("utf-8", "surrogatepass")


def markup(value: object, *, newlines: bool = False) -> str:
    """:func:`printable`, then escaped for rich markup: safe inside ``console.print`` and table cells."""
    from rich.markup import escape

    return escape(printable(value, newlines=newlines))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 trial``, ``2 trials``, ``0 trials`` (``nouns`` when the plural is not ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
