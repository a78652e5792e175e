"""Hostile and broken feeds through the real pipeline: a clear error per feed, the run goes on."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Article, rss, sample_articles, write_sources
from servers import TrickleServer, endless_chunks, gzip_bomb
from typer.testing import CliRunner
from werkzeug import Request, Response

from newswatch.cli import app
from newswatch.config import Config, load_config
from newswatch.models import IngestStats
from newswatch.pipeline import ingest
from storage.db import now, open_database

GOOD = Article("good-news", "CSTO summit in Yerevan", "The CSTO met in Yerevan.\n" * 10)


def run(config: Config) -> IngestStats:
    with open_database(config.settings.database) as db:
        return ingest(config, db)


def titles(config: Config) -> dict[str, str]:
    """Stored article titles by feed (one title per feed is enough here)."""
    with open_database(config.settings.database) as db:
        return dict(db.con.execute("SELECT title, feed_name FROM articles").fetchall())


def one_item_rss(title: str, link: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (f'{declaration}<rss version="2.0"><channel><title>t</title><item><title>{title}</title>'
            f"<link>{link}</link><description>d</description></item></channel></rss>")


def static(body: bytes | str, content_type: str = "application/rss+xml", **headers):
    return lambda request: Response(body, content_type=content_type, headers=headers)


def status(tmp_path: Path, sources: Path) -> str:
    result = CliRunner().invoke(app, ["sources", "status", "--sources", str(sources)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def status_row(output: str, feed: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"│ {feed} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_every_hostile_feed_fails_alone_and_the_good_one_is_stored(site, tmp_path):
    """One run over many broken feeds: each gets its own clear error, the good feed is stored."""
    site.route("/html.xml", static("<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>", "text/html"))
    site.route("/empty-body.xml", static(b""))
    site.route("/garbage.xml", static(b"\x00\x01\x02 binary garbage \xff\xfe"))
    site.route("/huge.xml", static(b"<rss>" + b" " * 50_000_000))  # 50 MB with Content-Length
    site.route("/huge-stream.xml", lambda request: Response(endless_chunks(b"<item>x</item>" * 5000, 50_000_000),
                                                           content_type="application/rss+xml"))
    site.route("/bomb.xml", static(gzip_bomb(200), **{"Content-Encoding": "gzip"}))
    site.route("/loop-a.xml", lambda request: Response(status=302, headers={"Location": "/loop-b.xml"}))
    site.route("/loop-b.xml", lambda request: Response(status=302, headers={"Location": "/loop-a.xml"}))
    site.route("/gone.xml", lambda request: Response("gone", status=410))
    feeds = {
        "Html": "/html.xml", "EmptyBody": "/empty-body.xml", "Garbage": "/garbage.xml",
        "Huge": "/huge.xml", "HugeStream": "/huge-stream.xml", "Bomb": "/bomb.xml",
        "Loop": "/loop-a.xml", "Gone": "/gone.xml", "Missing": "/missing.xml",
    }
    good_url = site.add_feed("/good.xml", [GOOD])
    sources = write_sources(
        tmp_path,
        [{"name": name, "url": site.url + path, "language": "en"} for name, path in feeds.items()]
        + [{"name": "Good", "url": good_url, "language": "en"}],
    )
    config = load_config(sources)
    stats = run(config)
    assert stats.feeds_ok == 1 and stats.feeds_failed == len(feeds) and stats.new_articles == 1
    assert stats.failures == {
        "Html": "not a feed: the server sent an HTML page (text/html)",
        "EmptyBody": "not a feed: the response is empty",
        "Garbage": stats.failures["Garbage"],
        "Huge": "body of 50000005 bytes exceeds limit of 10000000",
        "HugeStream": "body exceeds limit of 10000000 bytes",
        "Bomb": "body exceeds limit of 10000000 bytes",
        "Loop": f"redirect loop: {site.url}/loop-a.xml -> {site.url}/loop-b.xml -> {site.url}/loop-a.xml",
        "Gone": "HTTP 410",
        "Missing": "HTTP 404",
    }
    assert stats.failures["Garbage"].startswith("not a feed: ")
    assert titles(config) == {GOOD.title: "Good"}
    rows = {row[0]: row for row in (status_row(status(tmp_path, sources), name) for name in [*feeds, "Good"])}
    assert rows["Good"][1:4] == ["ok", "0", rows["Good"][3]] and rows["Good"][3] != "never"
    assert rows["Huge"][1:5] == ["failing", "1", "never", "body of 50000005 bytes exceeds limit of 10000000"]


def test_slow_loris_feed_times_out_and_the_run_goes_on(site, tmp_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss version='2.0'><channel>"
    with TrickleServer(head, b"<item><title>x</title></item>", interval=0.05) as slow:
        config = load_config(write_sources(tmp_path, [
            {"name": "Slow", "url": slow.url + "/feed.xml", "language": "en"},
            {"name": "Good", "url": site.add_feed("/good.xml", [GOOD]), "language": "en"},
        ], http={"total_timeout": 1.5}))
        stats = run(config)
    assert stats.failures == {"Slow": "response took longer than 1.5s"}
    assert stats.new_articles == 1


def test_malformed_xml_is_salvaged_when_possible(site, tmp_path):
    broken = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>AT&T news</title>'
              f"<item><title>Peace & quiet <b>in Syunik</title><link>{site.url}/news/a</link></item>"
              f"<item><title>Second</title><link>{site.url}/news/b</link>")  # never closed
    site.route("/broken.xml", static(broken))
    config = load_config(write_sources(tmp_path, [{"name": "Broken", "url": site.url + "/broken.xml", "language": "en"}]))
    stats = run(config)
    assert stats.feeds_ok == 1 and stats.new_articles == 2
    assert set(titles(config)) == {"Peace & quiet in Syunik", "Second"}


@pytest.mark.parametrize(
    "body, content_type",
    [
        # cp1251 declared in the XML, the server claims UTF-8
        (one_item_rss("Заявление ОДКБ о миротворцах", "{url}/news/ru",
                      '<?xml version="1.0" encoding="windows-1251"?>').encode("cp1251"),
         "application/rss+xml; charset=utf-8"),
        # cp1251 with no declaration and no charset at all
        (one_item_rss("Заявление ОДКБ о миротворцах в Нагорном Карабахе и в Армении",
                      "{url}/news/ru", '<?xml version="1.0"?>').encode("cp1251"), "application/rss+xml"),
        # UTF-8 with a byte-order mark, the server claims cp1251
        (b"\xef\xbb\xbf" + one_item_rss("Заявление ОДКБ о миротворцах", "{url}/news/ru").encode(),
         "text/xml; charset=windows-1251"),
        # UTF-8 labelled as ISO-8859-1 (a common web-server default)
        (one_item_rss("Заявление ОДКБ о миротворцах", "{url}/news/ru").encode(), "text/xml; charset=iso-8859-1"),
    ],
    ids=["cp1251-wrong-header", "cp1251-unlabelled", "utf8-bom-wrong-header", "utf8-labelled-latin1"],
)
def test_wrong_or_missing_charset(site, tmp_path, body, content_type):
    site.route("/ru.xml", static(body.replace(b"{url}", site.url.encode()), content_type))
    config = load_config(write_sources(tmp_path, [{"name": "Ru", "url": site.url + "/ru.xml", "language": "ru"}]))
    stats = run(config)
    assert stats.feeds_ok == 1
    title = next(iter(titles(config)))
    assert title.startswith("Заявление ОДКБ о миротворцах")


def test_empty_feed_is_fine(site, tmp_path):
    site.route("/empty.xml", static(rss(site.url, [])))
    config = load_config(write_sources(tmp_path, [{"name": "Empty", "url": site.url + "/empty.xml", "language": "en"}]))
    stats = run(config)
    assert (stats.feeds_ok, stats.feeds_failed, stats.new_articles) == (1, 0, 0)


def test_xml_entities_are_never_expanded_nor_loaded(site, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    lol = "".join(
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10 if i else "lol"}">' for i in range(10)
    )
    xxe = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">'
           f'<!ENTITY remote SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
           f'<rss version="2.0"><channel><title>t</title><item><title>CSTO &xxe; &remote;</title>'
           f"<link>{site.url}/news/xxe</link><description>&xxe;</description></item></channel></rss>")
    bomb = (f'<?xml version="1.0"?><!DOCTYPE rss [{lol}]><rss version="2.0"><channel><title>t</title>'
            f"<item><title>CSTO &lol9;</title><link>{site.url}/news/lol</link></item></channel></rss>")
    site.route("/xxe.xml", static(xxe))
    site.route("/lol.xml", static(bomb))
    config = load_config(write_sources(tmp_path, [
        {"name": "Xxe", "url": site.url + "/xxe.xml", "language": "en"},
        {"name": "Lol", "url": site.url + "/lol.xml", "language": "en"},
    ]))
    started = time.monotonic()
    stats = run(config)
    assert time.monotonic() - started < 600  # a billion laughs would never finish (generous: loaded machines)
    assert stats.feeds_failed == 0
    with open_database(config.settings.database) as db:
        rows = db.con.execute("SELECT title, summary, coalesce(text, '') FROM articles").fetchall()
    assert len(rows) == 2
    stored = " ".join(" ".join(row) for row in rows)
    assert "TOP-SECRET" not in stored and "lollol" not in stored
    assert max(len(title) for title, _, _ in rows) < 100


def test_permanent_redirect_updates_the_stored_url_temporary_does_not(site, tmp_path):
    moved = site.add_feed("/new-home.xml", [GOOD])
    site.route("/moved.xml", lambda request: Response(status=301, headers={"Location": moved}))
    site.route("/temporary.xml", lambda request: Response(status=302, headers={"Location": moved}))
    config = load_config(write_sources(tmp_path, [
        {"name": "Moved", "url": site.url + "/moved.xml", "language": "en"},
        {"name": "Temporary", "url": site.url + "/temporary.xml", "language": "en"},
    ]))
    run(config)
    with open_database(config.settings.database) as db:
        assert {name: state.url for name, state in db.feed_states().items()} == {
            "Moved": moved, "Temporary": site.url + "/temporary.xml"}
    run(config)
    assert site.statuses("/moved.xml") == [301]  # the second run went straight to the new URL
    assert site.statuses("/temporary.xml") == [302, 302]
    assert site.statuses("/new-home.xml") == [200, 200, 304, 304]


@pytest.mark.parametrize("code", [404, 410])
def test_gone_feed_is_marked_dead_skipped_rechecked_and_recovers(site, tmp_path, code):
    serving = {"ok": False}

    def feed(request: Request) -> Response:
        if serving["ok"]:
            return Response(rss(site.url, [GOOD]), content_type="application/rss+xml")
        return Response("no", status=code)

    url = site.route("/dying.xml", feed)
    sources = write_sources(tmp_path, [{"name": "Dying", "url": url, "language": "en"}],
                            health={"dead_after": 2, "dead_recheck_hours": 24})
    config = load_config(sources)
    assert run(config).failures == {"Dying": f"HTTP {code}"}
    assert status_row(status(tmp_path, sources), "Dying")[1:3] == ["failing", "1"]
    run(config)
    row = status_row(status(tmp_path, sources), "Dying")
    assert row[1:3] == ["dead", "2"] and row[5] != "next run"  # next check in 24 h

    skipped = run(config)  # dead: not fetched
    assert skipped.feeds_skipped == 1 and skipped.skipped["Dying"].startswith(f"dead (HTTP {code}, 2 failures in a row)")
    assert site.statuses("/dying.xml") == [code, code]

    with open_database(config.settings.database) as db:  # a day later it is probed again
        db.con.execute("UPDATE feeds SET last_fetch_at = last_fetch_at - INTERVAL 25 HOUR")
    assert run(config).feeds_failed == 1 and site.statuses("/dying.xml") == [code] * 3

    serving["ok"] = True  # the site is back; the operator does not want to wait a day
    result = CliRunner().invoke(app, ["sources", "reset", "Dying", "--sources", str(sources)])
    assert result.exit_code == 0 and "next run fetches it" in result.output
    stats = run(config)
    assert (stats.feeds_ok, stats.new_articles) == (1, 1)
    assert status_row(status(tmp_path, sources), "Dying")[1:3] == ["ok", "0"]


def test_changing_a_dead_feeds_url_revives_it(site, tmp_path):
    feeds = [{"name": "F", "url": site.url + "/old.xml", "language": "en"}]
    config = load_config(write_sources(tmp_path, feeds, health={"dead_after": 1}))
    run(config)
    assert run(config).feeds_skipped == 1
    feeds[0]["url"] = site.add_feed("/new.xml", [GOOD])
    stats = run(load_config(write_sources(tmp_path, feeds, health={"dead_after": 1})))
    assert (stats.feeds_skipped, stats.feeds_ok, stats.new_articles) == (0, 1, 1)


def test_unknown_feed_reset_is_an_error(site, tmp_path):
    sources = write_sources(tmp_path, [{"name": "F", "url": site.add_feed("/f.xml", [GOOD]), "language": "en"}])
    result = CliRunner().invoke(app, ["sources", "reset", "Nope", "--sources", str(sources)])
    assert result.exit_code == 2 and "no feed named 'Nope'" in result.output, result.output  # a usage error
    assert "its feeds: F" in result.output, result.output
    result = CliRunner().invoke(app, ["sources", "reset", "F", "--sources", str(sources)])
    assert result.exit_code == 0 and "F: never fetched yet; nothing to reset" in result.output, result.output


def test_short_retry_after_is_waited_out(site, tmp_path):
    calls: list[float] = []

    def busy_once(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(rss(site.url, [GOOD]), content_type="application/rss+xml")

    url = site.route("/busy.xml", busy_once)
    config = load_config(write_sources(tmp_path, [{"name": "Busy", "url": url, "language": "en"}]))
    stats = run(config)
    assert (stats.feeds_ok, stats.new_articles) == (1, 1)
    assert len(calls) == 2 and calls[1] - calls[0] >= 1.0


@pytest.mark.parametrize("code", [429, 503])
def test_long_retry_after_is_stored_and_honoured(site, tmp_path, code):
    url = site.route("/busy.xml", lambda request: Response("busy", status=code, headers={"Retry-After": "3600"}))
    good = site.add_feed("/good.xml", [GOOD])
    sources = write_sources(tmp_path, [{"name": "Busy", "url": url, "language": "en"},
                                       {"name": "Good", "url": good, "language": "en"}])
    config = load_config(sources)
    before = now()
    first = run(config)
    assert first.failures["Busy"].startswith(f"HTTP {code}, asked to retry after ")
    with open_database(config.settings.database) as db:
        until = db.feed_health()["Busy"].retry_after_until
    assert before + timedelta(seconds=3590) < until < now() + timedelta(seconds=3610)
    assert status_row(status(tmp_path, sources), "Busy")[1] == "waiting"

    second = run(config)
    assert second.skipped == {"Busy": second.skipped["Busy"]} and "(Retry-After)" in second.skipped["Busy"]
    assert site.statuses("/busy.xml") == [code]  # not asked again before the time
    assert second.feeds_not_modified == 1


def test_absurd_retry_after_is_capped(site, tmp_path):
    url = site.route("/busy.xml", lambda request: Response("busy", status=429,
                                                           headers={"Retry-After": str(10 * 365 * 86400)}))
    config = load_config(write_sources(tmp_path, [{"name": "Busy", "url": url, "language": "en"}],
                                       http={"retry_after_max": 7200}))
    run(config)
    with open_database(config.settings.database) as db:
        until = db.feed_health()["Busy"].retry_after_until
    assert until < now() + timedelta(seconds=7210)


def test_sample_feed_still_works_with_every_guard_on(site, tmp_path):
    """Robots.txt, politeness delay and the SSRF guard (loopback allow-listed) all active."""
    site.route("/robots.txt", static("User-agent: *\nDisallow: /private/\n", "text/plain"))
    config = load_config(write_sources(
        tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"}],
        http={"per_host_delay": 0.05, "respect_robots": True},
    ))
    stats = run(config)
    assert (stats.new_articles, stats.extracted) == (3, 3)
    assert site.statuses("/robots.txt") == [200]


def test_report_footer_shows_feed_health(site, tmp_path):
    from newswatch.reports import report, report_window

    url = site.add_feed("/flaky.xml", [GOOD])
    config = load_config(write_sources(tmp_path, [{"name": "Flaky <feed>", "url": url, "language": "en"}]))
    run(config)
    site.feeds.pop("/flaky.xml")  # the feed disappears: 404 from now on
    run(config)
    run(config)
    with open_database(config.settings.database) as db:
        health = db.feed_health()["Flaky <feed>"]
        built, html_path, text_path = report(config, db, *report_window(24), tmp_path / "out")
    html, text = html_path.read_text(encoding="utf-8"), text_path.read_text(encoding="utf-8")
    when = f"{health.last_success_at:%Y-%m-%d %H:%M} UTC"
    since = f"{health.failing_since:%Y-%m-%d %H:%M} UTC"
    assert (f"Flaky &lt;feed&gt;: HTTP 404 &middot; 2 failed fetch(es) in a row since {since}"
            f" &middot; last success {when}") in html
    assert f"- Flaky <feed>: HTTP 404 | 2 failed fetch(es) in a row since {since} | last success {when}" in text
