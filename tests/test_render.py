"""Report rendering: escaping, highlighting, grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newswatch.models import ClusterSummary, FeedHealth, MatchedArticle, Snippet
from newswatch.render import also_reported, build_report, highlight_html, highlight_text, render_report

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def row(topic: str, title: str, snippet: Snippet, hours_ago: float = 1) -> MatchedArticle:
    return MatchedArticle(
        article_id=title, topic=topic, score=2.0, terms=("csto",), snippets=(snippet,), title=title,
        url="https://x.example/a?b=1&c=<2>", feed_name="Feed <b>", language="en",
        published_at=NOW - timedelta(hours=hours_ago), discovered_at=NOW, status="extracted",
    )


def test_highlight_escapes_text_and_marks_spans():
    snippet = Snippet("<b>CSTO</b> & ОДКБ", ((3, 7), (14, 18)))
    assert str(highlight_html(snippet)) == "&lt;b&gt;<mark>CSTO</mark>&lt;/b&gt; &amp; <mark>ОДКБ</mark>"
    assert highlight_text(snippet) == "<b>[[CSTO]]</b> & [[ОДКБ]]"


def test_hostile_titles_are_escaped_and_sections_follow_topic_order():
    hostile = '<script>alert("x")</script> CSTO'
    report = build_report(
        [row("CSTO", hostile, Snippet("CSTO summit", ((0, 4),)))],
        [("peace accord", ""), ("CSTO", "Collective <security>")], NOW - timedelta(days=1), NOW, NOW,
        failing_feeds=[FeedHealth("Dead <feed>", "https://x.example/feed", last_error="HTTP 404",
                                  consecutive_failures=2, failing_since=NOW - timedelta(hours=1))],
    )
    html, text = render_report(report)
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; CSTO" in html
    assert 'href="https://x.example/a?b=1&amp;c=&lt;2&gt;"' in html
    assert "Collective &lt;security&gt;" in html and "Dead &lt;feed&gt;: HTTP 404" in html
    assert html.index("peace accord") < html.index("CSTO (1)")
    assert "No matching articles in this period." in html
    assert hostile in text and "[[CSTO]] summit" in text and "Dead <feed>: HTTP 404" in text


def test_a_story_names_its_editions_in_other_languages():
    cluster = ClusterSummary(
        "c", "a1", "APA", "Peace text agreed", "https://apa.az/1", 5, ("APA", "Armenpress", "Trend", "ТАСС"),
        NOW, NOW, ("a1", "a2", "a3", "a4", "a5"),
        editions=(("en", ("APA", "Trend")), ("ru", ("ТАСС",)), ("hy", ("Armenpress",))),
    )
    assert also_reported(cluster, "APA", "en") == (
        "also reported by Trend · also in Russian: ТАСС; Armenian: Armenpress · 5 articles in this story"
    )
    assert also_reported(cluster, "ТАСС", "ru") == (
        "also in English: APA, Trend; Armenian: Armenpress · 5 articles in this story"
    )
    unknown_language = also_reported(cluster, "APA", None)
    assert unknown_language == "also reported by Armenpress, Trend, ТАСС · 5 articles in this story"
