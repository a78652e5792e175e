"""Canonical URLs and article ids."""

from __future__ import annotations

import pytest

from newswatch.urls import article_id, canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://Example.COM/news/1?utm_source=rss&utm_medium=feed", "https://example.com/news/1"),
        ("https://www.example.com:443/news/1/#comments", "https://example.com/news/1"),
        ("http://example.com:8080/a?b=2&a=1&fbclid=xyz", "http://example.com:8080/a?a=1&b=2"),
        ("https://example.com/a//b/?id=7&gclid=1", "https://example.com/a/b?id=7"),
        ("https://example.com", "https://example.com/"),
        ("https://news.am/eng/news/812345.html", "https://news.am/eng/news/812345.html"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_article_id_is_stable_across_url_variants():
    assert article_id("https://www.x.am/a?utm_campaign=z#top") == article_id("https://x.am/a")
    assert article_id("https://x.am/a") != article_id("https://x.am/b")
