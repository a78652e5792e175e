"""Parse functions for parser processes in tests (importable by the workers, unlike test modules)."""

from __future__ import annotations

import os

from newswatch.pages import ParsedPage, parse_page

CRASH = b"<!-- kill the parser process -->"


def parse_or_die(content: bytes, url: str, title: str, language_hint: str | None) -> ParsedPage:
    """``parse_page``, except that a page containing ``CRASH`` ends the process on the spot."""
    if CRASH in content:
        os._exit(70)
    return parse_page(content, url, title, language_hint)
