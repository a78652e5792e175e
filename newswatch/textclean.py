"""Text from pages we do not control, made safe to store, match and display."""

from __future__ import annotations

import re

# C0/C1 control characters (but tab and newlines), soft hyphen, zero-width space, word joiner
# and invisible operators, bidi embeddings/overrides/isolates (they can reverse how the rest of
# a line reads) and BOMs. Zero-width (non-)joiners stay: some scripts and emoji need them.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def clean_text(text: str) -> str:
    """``text`` without control, bidi-override and zero-width characters."""
    return _INVISIBLE.sub("", text)
