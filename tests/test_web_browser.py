"""The workspace in a real browser (Playwright driving Debian's Chromium): search, open a
story, mark an item not relevant, reload and see it recorded; a failed submission is shown,
not swallowed; no Content-Security-Policy violations; phone width without sideways scrolling,
dark mode. Screenshots at desktop and phone widths go to artifacts/."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from conftest import NewsSite
from digest_helpers import CSTO_HY, PEACE_RU, Newsroom
from web_helpers import REPO, fill_newsroom, newswatch, web_server

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no chromium binary (apt-get install -y chromium)")
    return found


@pytest.fixture(scope="module")
def served(make_httpserver, tmp_path_factory):
    """`newswatch run` against the local news site, then `newswatch web`, as a new user would."""
    tmp_path = tmp_path_factory.mktemp("browser")
    make_httpserver.clear()  # handlers other modules may have left on the shared server
    config = fill_newsroom(Newsroom(NewsSite(make_httpserver), tmp_path), ingest=False)
    done = newswatch("run", "--sources", str(tmp_path / "sources.yaml"), cwd=tmp_path)
    assert done.returncode == 0 and "report: " in done.stdout, done.stderr[-3000:]
    make_httpserver.clear()
    with web_server(tmp_path / "sources.yaml", tmp_path) as url:
        yield url, config


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page_for(browser):
    """New pages (viewport, colour scheme) whose console errors are collected in ``page.errors``."""
    contexts = []

    def make(viewport: dict, scheme: str = "light"):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.errors = []
        page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def wider_than_the_screen(page) -> list[str]:
    """Elements that stick out to the right (they would make the page scroll sideways)."""
    return page.evaluate(
        """[...document.querySelectorAll("body *")]
             .filter(e => !e.closest(".table-wrap") && e.getBoundingClientRect().right > window.innerWidth + 1)
             .map(e => `${e.tagName}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}px`)"""
    ) + ([] if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1") else ["<html>"])


def test_search_open_a_story_mark_not_relevant_and_see_it_after_reload(served, page_for):
    url, config = served
    page = page_for(DESKTOP)
    page.goto(url + "/")
    shot(page, "topics-desktop")
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Query").fill('"мирный договор" OR ՀԱՊԿ')
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=*")
    assert page.locator(".item").count() == 2
    assert page.locator("mark").first.is_visible()
    shot(page, "search-desktop")

    page.locator(".item", has_text=PEACE_RU.title).get_by_role("link", name="Story page").click()
    page.wait_for_url("**/stories/*")
    assert page.get_by_role("heading", level=1).inner_text() == PEACE_RU.title
    assert page.get_by_text("мирный договор готов к подписанию").first.is_visible()
    shot(page, "story-desktop")

    page.goto(url + "/topics/CSTO")
    item = page.locator(".item", has_text=CSTO_HY.title)
    item.get_by_role("button", name="Not relevant").click()
    item.get_by_text("Marked not relevant for CSTO").wait_for()  # said on the page, without a reload
    assert page.url == url + "/topics/CSTO"
    page.reload()
    page.locator(".item", has_text=CSTO_HY.title).get_by_text("Marked not relevant for CSTO").wait_for()
    shot(page, "topic-desktop")
    con = duckdb.connect(str(config.settings.database), read_only=True)
    try:
        assert con.execute("SELECT topic, kind FROM feedback").fetchall() == [("CSTO", "not_relevant")]
    finally:
        con.close()
    assert page.errors == []  # no script errors, no Content-Security-Policy violations


def test_a_feedback_that_fails_is_shown_as_failed(served, page_for):
    url, _ = served
    page = page_for(DESKTOP)
    page.goto(url + "/search?q=CSTO")
    first = page.locator(".item").first
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'stale')")
    first.get_by_role("button", name="Missed").click()
    alert = first.locator(".fb-status.error")
    alert.wait_for()
    assert alert.inner_text().startswith("Not recorded: This form has expired")
    assert first.get_by_role("button", name="Missed").is_enabled()  # can be tried again


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_width_and_colour_schemes(served, page_for, scheme):
    url, _ = served
    page = page_for(PHONE, scheme)
    for path, name in (("/topics/CSTO", "topic"), ("/search?q=%40armenia", "search"), ("/feeds", "feeds"), ("/", "topics")):
        page.goto(url + path)
        assert wider_than_the_screen(page) == [], path
        shot(page, f"{name}-phone-{scheme}")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(18, 22, 28)") == (scheme == "dark")
    assert page.errors == []
