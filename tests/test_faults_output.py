"""Hostile text in titles and bodies renders escaped and readable in the report (and the shared
item template the digest uses)."""

from __future__ import annotations

import subprocess

import lxml.etree
import lxml.html
import pytest
from conftest import Article, write_sources
from werkzeug import Response

from newswatch.config import load_config
from newswatch.pipeline import ingest
from newswatch.reports import report, report_window
from storage.db import open_database

INVISIBLE = ("\u202e", "\u202d", "\u2066", "\u200b", "\ufeff", "\x07")


def test_hostile_titles_and_bodies_render_escaped_and_readable(site, tmp_path):
    body = Article(
        "body", "CSTO body test",
        "Officials said &lt;script&gt;alert('body')&lt;/script&gt; nothing about the CSTO.\n"
        "The CSTO summit in Yerevan \u202eSIHT DAER\u202c continued for a day.\n" * 4,
    )
    site.articles[body.slug] = body
    titles = {
        # escaped markup in an RSS title: shown as text, never as a tag
        "escaped": "CSTO &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; summit",
        # markup inside CDATA: an <img onerror> must not survive as markup
        "cdata": "<![CDATA[CSTO <img src=x onerror=alert(2)> talks &eacute;lys&eacute;e &amp; co]]>",
        # a right-to-left override that would reverse the rest of the line
        "rtl": "CSTO report \u202egnp.exe",
        # a zero-width space hiding a watched word, plus a BOM
        "zw": "CS\u200bTO meets\ufeff again",
        # genuine right-to-left text stays
        "arabic": "CSTO قمة منظمة معاهدة الأمن الجماعي",
    }
    items = "".join(
        f"<item><title>{title}</title><link>{site.url}/news/{slug}</link><description>CSTO summit summary of {slug}</description></item>"
        for slug, title in titles.items()
    ) + f"<item><title>{body.title}</title><link>{site.url}/news/{body.slug}</link></item>"
    feed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    url = site.route("/rss.xml", lambda request: Response(feed, content_type="application/rss+xml"))
    config = load_config(write_sources(tmp_path, [{"name": "Hostile <b>feed</b>", "url": url, "language": "en"}]))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        start, end = report_window(24)
        built, html_path, text_path = report(config, db, start, end, tmp_path / "out")
    assert stats.new_articles == 6 and built.item_count == 6  # every one matched CSTO
    html = html_path.read_text(encoding="utf-8")
    text = text_path.read_text(encoding="utf-8")

    for char in INVISIBLE:
        assert char not in html and char not in text
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "onerror=alert" not in lowered.replace("&", "")

    page = lxml.html.fromstring(html)
    shown = {a.get("href").rsplit("/", 1)[1]: a.text_content() for a in page.xpath("//a[@class='item-title']")}
    assert shown == {
        "escaped": "CSTO <script>alert(1)</script> summit",
        "cdata": "CSTO talks élysée & co",
        "rtl": "CSTO report gnp.exe",
        "zw": "CSTO meets again",
        "arabic": titles["arabic"],
        "body": "CSTO body test",
    }
    assert all(a.get("dir") == "auto" for a in page.xpath("//a[@class='item-title']"))
    snippets = " ".join(p.text_content() for p in page.xpath("//p[@class='snippet']"))
    assert "<script>alert('body')</script>" in snippets and "SIHT DAER" in snippets
    assert "Hostile <b>feed</b>" in page.text_content() and "<b>feed" not in html

    assert "* CSTO <script>alert(1)</script> summit" in text  # plain text stays plain
    assert "* CSTO meets again" in text


def test_console_never_reads_feed_or_operator_text_as_markup(site, tmp_path):
    """A server's error text and a feed's name are shown as they are, never as rich markup
    (``[/bold]`` without an opening tag used to crash ``sources status``)."""
    from typer.testing import CliRunner

    from newswatch.cli import app

    site.route("/odd.xml", lambda request: Response("x", headers={"Content-Encoding": "[/bold][link=http://evil]"}))
    sources = write_sources(tmp_path, [
        {"name": "[bold red]Loud[/] feed", "url": site.url + "/odd.xml", "language": "en"},
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
    runner = CliRunner()
    status, listed = (runner.invoke(app, [*command, "--sources", str(sources)], env={"COLUMNS": "250"})
                      for command in (["sources", "status"], ["sources", "list"]))
    assert status.exit_code == 0 and listed.exit_code == 0, status.output + listed.output
    assert "[bold red]Loud[/] feed" in status.output and "[bold red]Loud[/] feed" in listed.output
    assert "unsupported Content-Encoding '[/bold][link=http://evil]'" in status.output


HOSTILE_TOPIC = 'CSTO</text><script>document.body.appendChild(document.createElement("pwned-marker"))</script>'


def _hostile_topic_report(site, tmp_path):
    """A report whose chart has a row (with bars) for a topic named with an SVG script."""
    import yaml

    story = Article("csto", "CSTO summit opens in Yerevan", "The CSTO summit opened in Yerevan on Monday.\n" * 5)
    sources = write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", [story]), "language": "en"}])
    data = yaml.safe_load(sources.read_text(encoding="utf-8"))
    data["topics"].append({"name": HOSTILE_TOPIC, "terms": {"en": ["CSTO"]}})
    sources.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        built, html_path, _ = report(config, db, *report_window(24), tmp_path / "out")
    assert [row.total for row in built.chart.rows if row.name == HOSTILE_TOPIC] == [1]
    return html_path


def test_topic_names_are_escaped_in_the_svg_chart(site, tmp_path):
    html = _hostile_topic_report(site, tmp_path).read_text(encoding="utf-8")
    chart = html[html.index("<svg"): html.index("</svg>")]
    assert "<script" not in chart and "&lt;script&gt;" in chart
    svg = lxml.etree.fromstring(chart.encode() + b"</svg>")  # well-formed XML, names as text
    assert HOSTILE_TOPIC + ": 1 from" in "".join(svg.itertext())


@pytest.mark.slow
def test_a_script_in_a_topic_name_does_not_run_in_chromium(site, tmp_path):
    from test_digest_render import chromium

    html_path = _hostile_topic_report(site, tmp_path)
    dom = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", html_path.as_uri()],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    assert "<svg" in dom and "<rect" in dom  # the chart was rendered
    assert "<pwned-marker>" not in dom  # the script did not run
