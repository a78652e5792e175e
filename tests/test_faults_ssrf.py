"""SSRF: links and redirects to loopback, private, link-local or non-http(s) addresses are refused.

Refusals must happen before any connection: ``conftest`` fails (and records) every attempt to
connect beyond loopback, and these tests check that nothing was recorded.
"""

from __future__ import annotations

import pytest
from conftest import NON_LOOPBACK_CONNECTS, Article, write_sources
from werkzeug import Response

from newswatch.config import HttpSettings, load_config
from newswatch.errors import ConfigError, FetchError
from newswatch.http import fetch, make_client
from newswatch.pipeline import ingest
from storage.db import open_database


@pytest.fixture(autouse=True)
def _no_connection_beyond_loopback():
    before = len(NON_LOOPBACK_CONNECTS)
    yield
    assert NON_LOOPBACK_CONNECTS[before:] == []


def get(url: str, allow_hosts: tuple[str, ...] = ()) -> bytes:
    http = HttpSettings(allow_hosts=allow_hosts, timeout=2, total_timeout=3, per_host_delay=0)
    with make_client(http) as client:
        return fetch(client, url, http).content


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/feed", "10.0.0.1 is a private address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://172.16.5.4:8080/", "172.16.5.4 is a private address"),
        ("http://[fd00::1]/", "fd00::1 is a private address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://[::ffff:169.254.169.254]/", "is a link-local address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("file:///etc/passwd", "refused file: URL"),
        ("ftp://example.org/feed.xml", "refused ftp: URL"),
        ("gopher://127.0.0.1:11211/", "refused gopher: URL"),
    ],
)
def test_private_and_non_http_addresses_are_refused_before_connecting(url, reason):
    with pytest.raises(FetchError, match=reason.replace(".", r"\.")):
        get(url)


def test_loopback_is_refused_without_the_allow_list(site):
    site.route("/feed.xml", lambda request: Response("<rss/>"))
    by_ip, by_name, by_number = (f"http://{host}:{site.server.port}/feed.xml"
                                 for host in ("127.0.0.1", "localhost", "2130706433"))
    with pytest.raises(FetchError, match=r"refused 127\.0\.0\.1: 127\.0\.0\.1 is a loopback address"):
        get(by_ip)
    # a host name is resolved and its addresses checked, before connecting
    with pytest.raises(FetchError, match="refused localhost: 127.0.0.1 is a loopback address"):
        get(by_name)
    # a decimal-encoded address resolves to loopback too
    with pytest.raises(FetchError, match="is a loopback address"):
        get(by_number)
    assert site.statuses("/feed.xml") == []
    assert get(by_ip, allow_hosts=("127.0.0.1",)) == b"<rss/>"
    assert get(by_ip, allow_hosts=("127.0.0.0/8",)) == b"<rss/>"
    assert get(by_name, allow_hosts=("localhost",)) == b"<rss/>"
    with pytest.raises(FetchError, match="refused 127.0.0.1"):
        get(by_ip, allow_hosts=("localhost",))  # names and addresses are listed separately


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/iam/", "http://10.1.2.3/admin", "file:///etc/passwd",
     "http://[::1]:22/"],
)
def test_redirects_to_forbidden_addresses_are_refused(site, target):
    site.route("/article", lambda request: Response(status=302, headers={"Location": target}))
    with pytest.raises(FetchError, match="refused"):
        get(site.url + "/article", allow_hosts=("127.0.0.1",))
    assert site.statuses("/article") == [302]


def test_allow_list_entries_are_validated(tmp_path):
    with pytest.raises(ConfigError, match=r"settings\.http\.allow_hosts.*not a host name"):
        load_config(write_sources(tmp_path, [{"name": "x", "url": "http://a.example/", "language": "en"}],
                                  http={"allow_hosts": ["intranet", "not a host!"]}))


def test_pipeline_refuses_private_feed_and_article_links(site, tmp_path):
    """Without the allow-list the loopback feed is refused; with it, an article link to the
    metadata service and one to another loopback address (not allow-listed) keep their summaries."""
    base = f"http://127.0.0.1:{site.server.port}"
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Metadata</title><link>http://169.254.169.254/latest/meta-data/</link><description>CSTO summary one</description></item>
<item><title>Other loopback</title><link>http://127.0.0.2:{site.server.port}/news/x</link><description>CSTO summary two</description></item>
<item><title>Fine</title><link>{base}/news/fine</link><description>CSTO summary three</description></item>
</channel></rss>"""
    site.route("/rss.xml", lambda request: Response(feed, content_type="application/rss+xml"))
    site.articles["fine"] = Article("fine", "Fine", "The CSTO summit met in Yerevan.\n" * 10)
    feeds = [{"name": "Local", "url": base + "/rss.xml", "language": "en"}]

    refused = load_config(write_sources(tmp_path, feeds, http={"allow_hosts": []}))
    with open_database(refused.settings.database) as db:
        stats = ingest(refused, db)
    assert stats.feeds_failed == 1 and "127.0.0.1 is a loopback address" in stats.failures["Local"]
    assert site.statuses("/rss.xml") == []

    allowed = load_config(write_sources(tmp_path, feeds, http={"allow_hosts": ["127.0.0.1"]}))
    with open_database(allowed.settings.database) as db:
        stats = ingest(allowed, db)
        rows = dict(db.con.execute("SELECT title, status || ': ' || coalesce(extract_error, '') FROM articles").fetchall())
    assert stats.new_articles == 3 and stats.extracted == 1 and stats.summary_only == 2
    assert rows["Metadata"] == "summary_only: refused 169.254.169.254: 169.254.169.254 is a link-local address (add it to settings.http.allow_hosts to allow it)"
    assert rows["Other loopback"].startswith("summary_only: refused 127.0.0.2: 127.0.0.2 is a loopback address")
    assert rows["Fine"] == "extracted: "
