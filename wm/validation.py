"""Parsing untrusted text into safe values, with a plain reason when it is not one.

``str.isdigit()`` accepts "²" and other Unicode digits that ``int()`` then refuses, and ``int()`` takes
"٣" or " 7" or "1_000"; database columns end at 2^63. One parser, used wherever a number comes from a
URL, a header or a form, takes only ASCII digits within bounds.
"""

from __future__ import annotations

import re
import unicodedata

from wm.services import DomainError

MAX_BIGINT = 2**63 - 1
# Direction overrides and isolates reorder what a reader sees ("gpj.exe" shown as "exe.jpg").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ASCII_DIGITS = re.compile(r"[0-9]+")


class InvalidNumber(DomainError):
    """The text is not a whole number in the accepted range; ``message`` says which rule it broke."""

    status = 400


def parse_int(text: str | None, name: str, minimum: int = 0, maximum: int = MAX_BIGINT) -> int:
    """``text`` as an int if it is plain ASCII digits between ``minimum`` and ``maximum``; else ``InvalidNumber``."""
    if text is None or not _ASCII_DIGITS.fullmatch(text):
        raise InvalidNumber(f"{name} must be a whole number written with the digits 0-9.")
    # Leading zeros aside, more digits than the maximum has cannot be in bounds: no need to convert them.
    if len(text.lstrip("0")) > len(str(maximum)) or not minimum <= int(text) <= maximum:
        raise InvalidNumber(f"{name} must be between {minimum} and {maximum}.")
    return int(text)


def int_or_none(text: str | None, minimum: int = 0, maximum: int = MAX_BIGINT) -> int | None:
    """``text`` as an int as ``parse_int`` takes it, or ``None`` (for callers that answer 403/404 themselves)."""
    try:
        return parse_int(text, "value", minimum, maximum)
    except InvalidNumber:
        return None


def check_text(text: str, name: str, field: str | None = None, multiline: bool = False) -> str:
    """``text`` unchanged if it holds no control characters (line breaks and tabs allowed when ``multiline``)
    and no direction overrides; else a ``DomainError`` naming ``field``."""
    allowed = "\n\r\t" if multiline else ""
    for char in text:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in allowed) or category == "Cs" or char in BIDI_CONTROLS:
            raise DomainError(f"{name} must not contain control or text-direction characters "
                              f"(found U+{ord(char):04X}).", field)
    return text


def has_visible_text(text: str) -> bool:
    """Whether ``text`` shows something: a letter, digit, punctuation or symbol (not only spaces, zero-width or
    direction marks)."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in text)


# check_text's rule as regular expressions, for schemas, so that API clients and fuzzers see it too (lone
# surrogates, which check_text refuses as well, stay out: JSON Schema's regular expressions cannot name them).
_CONTROLS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE = _CONTROLS + r"\u0009\u000a\u000d"
MULTILINE_TEXT = f"^[^{_CONTROLS}]*$"
# One line with something besides spaces in it (a title).
SOME_TEXT = f"^[^{_SINGLE_LINE}]*[^{_SINGLE_LINE}\\s][^{_SINGLE_LINE}]*$"
