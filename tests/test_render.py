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


def test_each_item_says_why_it_matched_in_words_without_query_syntax_or_scores():
    from labelled.data import load_watchlist

    from newswatch.match import compile_topics

    title = "Russian peacekeepers' mandate in Karabakh will not be extended"
    body = ("Baku said on Monday that the mandate of the Russian peacekeepers deployed in Karabakh "
            "in 2020 would not be extended when it expires next year.")
    (match,) = [m for m in compile_topics(*load_watchlist(), semantic=False).match(title, body, "en")
                if m.topic == "peacekeeping mandate"]
    assert match.reason.startswith("'peacekeepers' near 'mandate'") and "Nagorno-Karabakh" in match.reason
    stored = MatchedArticle(
        article_id="a", topic=match.topic, score=match.score, terms=match.terms, snippets=match.snippets,
        title=title, url="https://x.example/a", feed_name="Feed", language="en", published_at=NOW,
        discovered_at=NOW, status="extracted", reason=match.reason,
    )
    html, text = render_report(build_report([stored], [("peacekeeping mandate", "")], NOW - timedelta(days=1), NOW, NOW,
                                            feedback_url="http://127.0.0.1:8765/"))
    assert f"why: {match.reason}" in text
    # and a link to the story's page in the analyst workspace, where "Not relevant" records feedback
    assert 'href="http://127.0.0.1:8765/stories/a">not relevant? tell us</a>' in html
    assert "not relevant? http://127.0.0.1:8765/stories/a" in text
    assert "&#39;peacekeepers&#39; near &#39;mandate&#39;" in html
    for jargon in ("^0", "score", "@karabakh", "peacekeep*", "NEAR"):
        assert jargon not in text and jargon not in html


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
