"""``newswatch web`` over HTTP: every page, security headers, escaping of hostile feed text,
CSRF, authentication, binding rules, feedback with visible outcomes. A real server process
on loopback, a database filled by a real ingest of a local news site."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import quote

import duckdb
import httpx
import pytest
from conftest import NewsSite
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, Newsroom
from markupsafe import escape
from web_helpers import HOSTILE, REPO, fill_newsroom, web_server

from newswatch.errors import WebSetupError
from newswatch.web.security import CSP, Auth, auth_from_env, check_binding

PAGES = ["/", "/topics/CSTO", "/topics/peace%20accord?sort=newest&lang=ru", "/search?q=CSTO", "/feeds"]


@pytest.fixture(scope="module")
def workspace(make_httpserver, tmp_path_factory):
    """(base URL, config, sources path) of a running workspace over an ingested newsroom."""
    tmp_path = tmp_path_factory.mktemp("web")
    make_httpserver.clear()  # handlers other modules may have left on the shared server
    room = Newsroom(NewsSite(make_httpserver), tmp_path)
    config = fill_newsroom(room)
    make_httpserver.clear()  # the site was only needed for the ingest; later tests serve their own
    with web_server(tmp_path / "sources.yaml", tmp_path) as url:
        yield url, config, tmp_path / "sources.yaml"


def get(url: str, client: httpx.Client | None = None, **kwargs) -> httpx.Response:
    return (client or httpx).get(url, timeout=30, **kwargs)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def article_id(config, title: str) -> str:
    con = duckdb.connect(str(config.settings.database.with_name(config.settings.database.name + ".snapshot.duckdb")),
                         read_only=True)
    try:
        return con.execute("SELECT id FROM articles WHERE title = ?", [title]).fetchone()[0]
    finally:
        con.close()


def test_pages_show_topics_stories_search_and_feed_health(workspace):
    url, config, _ = workspace
    overview = get(url + "/").text
    assert all(topic.name in overview for topic in config.topics) and "<svg" in overview
    topic = get(url + "/topics/CSTO").text
    assert escape(CSTO_EN.title) in topic and escape(CSTO_HY.title) in topic
    assert topic.count(f">{escape(CSTO_EN.title)}</a>") == 1  # the copy is one story, not two items
    assert "2 articles in this story" in topic
    peace = get(url + "/topics/peace%20accord?lang=ka").text
    assert escape(PEACE_KA.title) in peace and escape(PEACE_RU.title) not in peace
    found = get(url + "/search?q=" + quote('"мирный договор"')).text
    assert escape(PEACE_RU.title) in found and "<mark>" in found and "1 article(s) match" in found
    feeds = get(url + "/feeds").text
    assert all(name in feeds for name in ("Daily", "Novosti", "Lraber", "Akhali")) and ">ok<" in feeds


def test_story_page_lists_every_outlet_and_language_edition_with_text(workspace):
    url, config, _ = workspace
    page = get(url + "/stories/" + article_id(config, CSTO_EN.title)).text
    assert "2 articles from 2 outlet(s): Daily, Novosti" in page
    assert page.count('class="item edition') == 2
    assert "Collective Security Treaty Organization failed Armenia" in page
    assert get(url + "/stories/nope").status_code == 404


@pytest.mark.parametrize("path", PAGES + ["/static/app.js", "/static/web.css", "/nope", "/search?q=AND"])
def test_every_response_carries_the_security_headers(workspace, path):
    url, _, _ = workspace
    response = get(url + path)
    assert response.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    if response.headers["content-type"].startswith("text/html"):
        assert "<script>" not in response.text and " style=" not in response.text  # nothing inline


def test_hostile_feed_text_is_never_rendered_as_html(workspace):
    url, config, _ = workspace
    hostile = article_id(config, HOSTILE.title)
    for path in ("/topics/CSTO", "/search?q=drills", f"/stories/{hostile}"):
        page = get(url + path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in page, path
    assert "&lt;script&gt;alert(&#39;body&#39;)" in get(url + f"/stories/{hostile}").text
    query = get(url + "/search?q=" + quote("<script>x</script>")).text  # the query itself is echoed escaped
    assert "<script>x" not in query and "&lt;script&gt;x" in query


def test_feedback_needs_the_session_token_and_the_same_origin(workspace):
    url, config, _ = workspace
    target = article_id(config, CSTO_HY.title)
    with httpx.Client(timeout=30) as client:
        token = csrf_of(get(url + "/topics/CSTO", client).text)
        form = {"csrf": token, "kind": "not_relevant", "topic": "CSTO", "article": target}
        json_accept = {"accept": "application/json"}
        assert client.post(url + "/feedback", data={**form, "csrf": "0" * 64}, headers=json_accept).status_code == 403
        foreign = client.post(url + "/feedback", data=form, headers={**json_accept, "origin": "https://evil.example"})
        assert foreign.status_code == 403 and "reload the page" in foreign.json()["error"]
        stranger = httpx.post(url + "/feedback", data=form, headers=json_accept, timeout=30)  # no session cookie
        assert stranger.status_code == 403
        done = client.post(url + "/feedback", data=form, headers={**json_accept, "origin": url})
        assert done.status_code == 200, done.text
        assert done.json() == {"ok": True, "state": "stored", "kind": "not_relevant", "topic": "CSTO",
                               "article": target, "message": "Marked not relevant for CSTO"}
        assert "Marked not relevant for CSTO" in get(url + "/topics/CSTO", client).text
    con = duckdb.connect(str(config.settings.database), read_only=True)
    try:
        assert con.execute("SELECT kind, topic, source FROM feedback WHERE article_id = ?", [target]).fetchall() == [
            ("not_relevant", "CSTO", "web")]
    finally:
        con.close()


def test_feedback_without_javascript_redirects_back_with_the_outcome_on_this_site_only(workspace):
    url, config, _ = workspace
    with httpx.Client(timeout=30) as client:
        token = csrf_of(get(url + "/topics/peace%20accord", client).text)
        form = {"csrf": token, "kind": "missed", "topic": "peace accord", "article": "https://example.org/missed-1",
                "next": "/topics/peace%20accord?sort=newest"}
        back = client.post(url + "/feedback", data=form)
        assert back.status_code == 303 and back.headers["location"] == "/topics/peace%20accord?sort=newest&flash=stored"
        assert "Feedback recorded." in get(url + back.headers["location"], client).text
        away = client.post(url + "/feedback", data={**form, "next": "https://evil.example/x"})
        assert away.headers["location"] == "/?flash=stored"


@pytest.mark.parametrize(("form", "reason"), [
    ({"kind": "liked"}, "Unknown kind"),
    ({"topic": "Weather"}, "configured topics"),
    ({"article": "no-such-id"}, "is not a stored article"),
])
def test_feedback_that_cannot_be_recorded_says_why(workspace, form, reason):
    url, _, _ = workspace
    with httpx.Client(timeout=30) as client:
        token = csrf_of(get(url + "/search?q=CSTO", client).text)
        sent = client.post(url + "/feedback", headers={"accept": "application/json"},
                           data={"csrf": token, "kind": "missed", "topic": "CSTO", "article": "x", **form})
    assert sent.status_code == 400 and not sent.json()["ok"] and reason in sent.json()["error"]


def test_invalid_search_is_explained_on_the_page(workspace):
    url, _, _ = workspace
    response = get(url + "/search?q=" + quote("CSTO AND"))
    assert response.status_code == 400 and "query ends too early" in response.text


def test_token_or_password_required_when_configured(workspace, tmp_path):
    _, _, sources = workspace
    token = "t0ken-for-tests-0123456789"
    env = {"NEWSWATCH_WEB_TOKEN": token, "NEWSWATCH_WEB_USER": "analyst", "NEWSWATCH_WEB_PASSWORD": "pw-123"}
    with web_server(sources, tmp_path, env) as url:
        refused = get(url + "/")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
        assert "CSTO" not in refused.text
        assert get(url + "/", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert get(url + "/", headers={"authorization": f"Bearer {token}"}).status_code == 200
        assert get(url + "/", auth=("anyone", token)).status_code == 200
        assert get(url + "/", auth=("analyst", "pw-123")).status_code == 200
        assert get(url + "/", auth=("analyst", "wrong")).status_code == 401


def test_refuses_to_listen_beyond_loopback_without_credentials(workspace, tmp_path):
    _, _, sources = workspace
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("NEWSWATCH_WEB_")}
    done = subprocess.run([sys.executable, "-m", "newswatch", "web", "--host", "0.0.0.0", "--sources", str(sources)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Not started:" in done.stderr and "NEWSWATCH_WEB_TOKEN" in done.stderr
    with pytest.raises(WebSetupError, match="reachable from other machines"):
        check_binding("192.0.2.10", Auth())
    check_binding("192.0.2.10", Auth(token="x" * 16))
    check_binding("::1", Auth())
    with pytest.raises(WebSetupError, match="too short"):
        auth_from_env({"NEWSWATCH_WEB_TOKEN": "short"})
    with pytest.raises(WebSetupError, match="both"):
        auth_from_env({"NEWSWATCH_WEB_USER": "analyst"})


def test_no_database_yet_is_a_clear_page_not_a_crash(tmp_path):
    sources = REPO / "sources.yaml"
    with web_server(sources, tmp_path, db=tmp_path / "none" / "x.duckdb") as url:
        page = get(url + "/")
    assert page.status_code == 503 and "run `newswatch ingest`" in page.text
