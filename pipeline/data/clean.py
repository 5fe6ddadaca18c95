"""Text normalization shared by every corpus parser.

Corpora arrive with NBSP, tabs, soft hyphens, zero-width and control characters, and mixed
Unicode compositions. Normalizing them once, here, keeps every downstream count (dedup keys,
vocabulary, splits) consistent across sources.
"""

from __future__ import annotations

import re
import unicodedata

# Python's \s already covers NBSP, the U+2000 spaces, line/paragraph separators and U+3000.
_SPACE = re.compile(r"\s+")
# Format characters (zero-width, soft hyphen, BOM, bidi marks) and C0/C1 controls.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def normalize(text: str) -> str:
    """NFC-compose, drop invisible and control characters, collapse whitespace, strip."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def decode(raw: bytes, encoding: str = "utf-8") -> str:
    """Decode bytes, replacing undecodable sequences with U+FFFD rather than failing.

    A corpus with a few broken bytes should lose those characters, not the whole file.
    """
    return raw.decode(encoding, errors="replace")
