"""Parse functions for parser processes in tests (importable by the workers, unlike test modules)."""

from __future__ import annotations

import os

from newswatch.page_parse import ParsedPage, parse_page

CRASH = b"<!-- kill the parser process -->"


def parse_or_die(
    content: bytes, url: str, title: str, language_hint: str | None, timezone_name: str | None = None
) -> ParsedPage:
    """``parse_page``, except that a page containing ``CRASH`` ends the process on the spot."""
    if CRASH in content:
        os._exit(70)
    return parse_page(content, url, title, language_hint, timezone_name)


HUNGRY = b"<!-- this page needs 3 GB to parse -->"


def parse_or_hog(
    content: bytes, url: str, title: str, language_hint: str | None, timezone_name: str | None = None
) -> ParsedPage:
    """``parse_page``, except that a page containing ``HUNGRY`` first asks for 3 GB of memory."""
    if HUNGRY in content:
        hog = bytearray(3 << 30)
        del hog
    return parse_page(content, url, title, language_hint, timezone_name)


def imported(*names: str) -> list[str]:
    """Which of the top-level modules ``names`` this process has imported."""
    import sys

    return [name for name in names if name in sys.modules]
