"""HTTP limits against real misbehaving servers on loopback: redirects, sizes, bombs, slow loris."""

from __future__ import annotations

import gzip
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from servers import TrickleServer, endless_chunks, gzip_bomb, threaded_server
from werkzeug import Response

from newswatch.config import HttpSettings
from newswatch.errors import FetchError
from newswatch.http import HttpResponse, fetch, make_client

LOOPBACK = ("127.0.0.1", "localhost")


def settings(**overrides) -> HttpSettings:
    """Test limits: loopback allowed, generous timeouts (tests of slow servers set short ones), no politeness delay."""
    values = dict(allow_hosts=LOOPBACK, timeout=30, total_timeout=60, per_host_delay=0)
    return HttpSettings(**{**values, **overrides})


def get(url: str, **overrides) -> HttpResponse:
    http = settings(**overrides)
    with make_client(http) as client:
        return fetch(client, url, http)


def redirect(to: str, status: int = 302):
    return lambda request: Response(status=status, headers={"Location": to})


def test_plain_fetch_works(site):
    site.route("/hello", lambda request: Response("hello", content_type="text/plain"))
    response = get(site.url + "/hello")
    assert (response.status, response.content, response.permanent_redirect) == (200, b"hello", False)


def test_redirect_loop_is_detected(site):
    site.route("/a", redirect("/b"))
    site.route("/b", redirect(site.url + "/a"))
    with pytest.raises(FetchError, match=r"redirect loop: .*/a -> .*/b -> .*/a$"):
        get(site.url + "/a")
    assert site.statuses("/a") == [302] and site.statuses("/b") == [302]


def test_too_many_redirects(site):
    for hop in range(5):
        site.route(f"/hop{hop}", redirect(f"/hop{hop + 1}", 301))
    site.route("/hop5", lambda request: Response("end"))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        get(site.url + "/hop0", max_redirects=3)
    assert get(site.url + "/hop0", max_redirects=5).content == b"end"
    assert site.statuses("/hop4") == [301]  # the first attempt stopped before /hop4


def test_permanent_only_when_every_hop_is_permanent(site):
    site.route("/old", redirect("/moved", 301))
    site.route("/moved", lambda request: Response("here"))
    site.route("/temp", redirect("/old", 302))
    assert get(site.url + "/old").permanent_redirect is True
    mixed = get(site.url + "/temp")
    assert mixed.url == site.url + "/moved" and mixed.permanent_redirect is False


def test_garbage_redirect_location_is_a_clear_error():
    head = b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n"
    with TrickleServer(head, b"") as server, pytest.raises(FetchError, match="Invalid URL in location header"):
        get(server.url + "/bad")


def test_declared_oversized_body_is_refused_before_reading(site):
    site.route("/big", lambda request: Response(b"x" * 2000))
    with pytest.raises(FetchError, match="body of 2000 bytes exceeds limit of 1000"):
        get(site.url + "/big", max_bytes=1000)


def test_streamed_oversized_body_is_cut_off(site):
    # 50 MB without Content-Length: reading stops at the limit
    site.route("/endless", lambda request: Response(endless_chunks(b"<x>" * 20000, 50_000_000)))
    with pytest.raises(FetchError, match="body exceeds limit of 1000000 bytes"):
        get(site.url + "/endless", max_bytes=1_000_000)


def test_gzip_bomb_is_cut_off_without_inflating_it(site):
    bomb = gzip_bomb(300)  # 300 MiB of zeros in ~300 KB
    assert len(bomb) < 1_000_000
    site.route("/bomb", lambda request: Response(bomb, headers={"Content-Encoding": "gzip"},
                                                 content_type="application/rss+xml"))
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="body exceeds limit of 1000000 bytes"):
            get(site.url + "/bomb", max_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # inflating one 64 KiB network chunk of this bomb at once would take ~64 MiB
    assert peak < 16 * 1024 * 1024


def test_compressed_bodies_are_decoded(site):
    text = b"<rss>" + b"news " * 1000 + b"</rss>"
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    encodings = {
        "gzip": gzip.compress(text),
        "deflate": zlib.compress(text),
        "deflate-raw": raw_deflate.compress(text) + raw_deflate.flush(),
    }
    for name, body in encodings.items():
        header = name.split("-")[0]
        site.route(f"/{name}", lambda request, body=body, header=header:
                   Response(body, headers={"Content-Encoding": header}))
        assert get(f"{site.url}/{name}").content == text


def test_corrupt_or_unknown_encoding_is_a_clear_error(site):
    site.route("/corrupt", lambda request: Response(b"\x1f\x8bnot really gzip", headers={"Content-Encoding": "gzip"}))
    site.route("/brotli", lambda request: Response(b"\x00\x01", headers={"Content-Encoding": "br"}))
    with pytest.raises(FetchError, match="corrupt compressed body"):
        get(site.url + "/corrupt")
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        get(site.url + "/brotli")


@pytest.mark.parametrize(
    "head, drip",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss>", b"<item/>"),
        (b"HTTP/1.1 200 OK\r\n", b"X-Filler: slow\r\n"),  # headers that never end
    ],
    ids=["body", "headers"],
)
def test_slow_loris_is_stopped_at_the_total_timeout(head, drip):
    with TrickleServer(head, drip, interval=0.1) as server:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"response took longer than 1.5s"):
            get(server.url + "/feed.xml", timeout=1, total_timeout=1.5)
        elapsed = time.monotonic() - started
    # bytes kept arriving well within the per-read timeout, and would for ever: stopped at the total
    assert 1.5 <= elapsed < 60


def test_silent_server_hits_the_read_timeout():
    with TrickleServer(b"HTTP/1.1 200 OK\r\n", b"", interval=0.1) as server:
        with pytest.raises(FetchError, match=r"timed out \(ReadTimeout\)"):
            get(server.url + "/", timeout=0.5, total_timeout=5)


@pytest.mark.parametrize("header", ["120", "date"])
def test_retry_after_seconds_and_http_date(header):
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    value = "120" if header == "120" else format_datetime(now + timedelta(seconds=120), usegmt=True)
    response = HttpResponse("http://x/", 429, httpx.Headers({"Retry-After": value}), b"")
    assert response.retry_after(now) == 120
    assert HttpResponse("http://x/", 429, httpx.Headers({"Retry-After": "soon"}), b"").retry_after(now) is None


def test_per_host_concurrency_and_delay():
    in_flight, peak, starts = [0], [0], []
    lock = threading.Lock()

    def slow(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            starts.append(time.monotonic())
        time.sleep(0.8)
        with lock:
            in_flight[0] -= 1
        return Response("ok")

    with threaded_server(slow) as url:
        http = settings(per_host_concurrency=2, per_host_delay=0.3, concurrency=8)
        with make_client(http) as client:
            threads = [threading.Thread(target=fetch, args=(client, f"{url}/{i}", http)) for i in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    # without the limit 3 requests would overlap (0.8 s each, one every 0.3 s)
    assert len(starts) == 6 and peak[0] == 2
    assert starts[-1] - starts[0] >= 5 * 0.3 - 0.1  # starts spaced by the delay at least


def test_robots_txt_is_respected_for_pages(site):
    robots = "User-agent: *\nDisallow: /private/\n\nUser-agent: newswatch\nDisallow: /no-bots/\n"
    site.route("/robots.txt", lambda request: Response(robots, content_type="text/plain"))
    site.route("/private/page", lambda request: Response("secret"))
    site.route("/no-bots/page", lambda request: Response("no"))
    site.route("/public/page", lambda request: Response("public"))
    http = settings()
    with make_client(http) as client:
        assert fetch(client, site.url + "/public/page", http, robots=True).content == b"public"
        assert fetch(client, site.url + "/private/page", http).content == b"secret"  # feeds: no check
        for path in ("/no-bots/page", "/public/page/../../no-bots/page"):
            with pytest.raises(FetchError, match="disallowed by robots.txt"):
                fetch(client, site.url + path, http, robots=True)
    assert site.statuses("/robots.txt") == [200]  # fetched once, then remembered
    assert site.statuses("/no-bots/page") == []


def test_robots_redirect_hop_to_disallowed_path_is_refused(site):
    site.route("/robots.txt", lambda request: Response("User-agent: *\nDisallow: /private/\n"))
    site.route("/go", redirect("/private/page"))
    with pytest.raises(FetchError, match="disallowed by robots.txt: .*/private/page"):
        http = settings()
        with make_client(http) as client:
            fetch(client, site.url + "/go", http, robots=True)


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (500, False)])
def test_robots_txt_errors_follow_rfc_9309(site, status, allowed):
    site.route("/robots.txt", lambda request: Response("nope", status=status))
    site.route("/page", lambda request: Response("page"))
    http = settings()
    with make_client(http) as client:
        if allowed:
            assert fetch(client, site.url + "/page", http, robots=True).content == b"page"
        else:
            with pytest.raises(FetchError, match="disallowed by robots.txt"):
                fetch(client, site.url + "/page", http, robots=True)
