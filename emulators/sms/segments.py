"""How many SMS segments a text takes, as the operators count them (GSM 03.38 / UCS-2).

A text in the GSM 7-bit alphabet fits 160 characters in one SMS and 153 per part when it
is split; a text with any other character (Cyrillic, for one) is sent in UCS-2: 70 in one,
67 per part. Characters of the GSM extension table (``{ } [ ] ~ \\ | ^ €``) take two places.
"""

from __future__ import annotations

import math

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€")

MAX_PARTS = 8
"""The longest text the gateway accepts, in parts."""


def is_gsm7(text: str) -> bool:
    """True when the whole text fits the GSM 7-bit alphabet."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def count_parts(text: str) -> int:
    """The number of SMS the text is sent as (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        length = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        single, multi = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if length <= single else math.ceil(length / multi)
