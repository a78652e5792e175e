"""The workspace's pages: topics, a topic's stories, a story, search, feed health, feedback.

Every page reads through :func:`storage.db.open_reader` (the database, or its snapshot
while an ingest writes it; the page says which), one request at a time, and holds the file only
while it renders. Feedback is written through :func:`newswatch.feedback.record` (stored, or queued
while a run writes the database; never dropped). Templates are the report's Jinja2
environment (autoescaped); feed-supplied text is only ever rendered as escaped text.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from newswatch import feedback
from newswatch.chart import volume_chart
from newswatch.config import Config
from newswatch.errors import FeedbackError, SearchError, StorageError
from newswatch.health import next_fetch
from newswatch.health import state as health_state
from newswatch.models import FEEDBACK_KINDS
from newswatch.render import (
    clusters_by_article,
    collapse_stories,
    environment,
    templates_dir,
)
from newswatch.search import search
from newswatch.search_output import make_filters
from newswatch.web.security import HEADERS, SESSION_COOKIE, Auth, Csrf
from storage.db import now, open_reader

STATIC = {"web.css": "text/css", "app.js": "text/javascript", "favicon.svg": "image/svg+xml"}
FLASH = {"stored": "Feedback recorded.", "queued": "Feedback queued: a run is writing the database; it is stored when the run ends."}
TOPIC_LIMIT = 50


@dataclass
class Workspace:
    """What every request needs: configuration, database path, security settings."""

    config: Config
    database: Path
    auth: Auth
    csrf: Csrf
    lock: threading.Lock

    def topic_names(self) -> list[str]:
        return [t.name for t in self.config.topics]


def _ws(request: Request) -> Workspace:
    return request.app.state.workspace


def _page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    session = request.state.session
    context.setdefault("freshness", None)
    html = environment().get_template(f"web/{template}").render(
        csrf=_ws(request).csrf.token(session), topics=_ws(request).topic_names(),
        path=request.url.path, query=str(request.url.query), flash=FLASH.get(request.query_params.get("flash", ""), ""),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _values(request: Request, name: str) -> list[str]:
    return [v for v in request.query_params.getlist(name) if v]


def _marks(ws: Workspace, db) -> dict[tuple[str, str], str]:
    """(topic, article id) -> 'not_relevant' | 'missed', stored or queued."""
    return feedback.verdicts([*db.feedback(), *feedback.queued(ws.database)])


def overview(request: Request) -> Response:
    ws = _ws(request)
    at = now()
    start = at - timedelta(days=30)
    with ws.lock, open_reader(ws.database) as (db, freshness):
        volumes = db.topic_volumes(at)
        chart = volume_chart(db.match_times(start, at), ws.topic_names(), start, at)
    return _page(request, "overview.html.j2", freshness=freshness, volumes=volumes, report={"chart": chart},
                 config=ws.config)


def topic_page(request: Request) -> Response:
    ws = _ws(request)
    name = request.path_params["name"]
    topic = next((t for t in ws.config.topics if t.name == name), None)
    if topic is None:
        return _page(request, "error.html.j2", 404, message=f"There is no topic named {name!r}.")
    newest = request.query_params.get("sort") == "newest"
    try:
        filters = make_filters(request.query_params.get("since"), request.query_params.get("until"),
                               _values(request, "lang"), _values(request, "source"), None, ws.config)
    except SearchError as error:
        return _page(request, "error.html.j2", 400, message=str(error))
    with ws.lock, open_reader(ws.database) as (db, freshness):
        rows = db.topic_matches(name, filters, newest, TOPIC_LIMIT)
        cluster_of = clusters_by_article(db.cluster_summaries([r.article_id for r in rows]))
        languages, outlets = db.topic_facets(name)
        marks = _marks(ws, db)
    return _page(request, "topic.html.j2", freshness=freshness, topic=topic, stories=collapse_stories(rows, cluster_of),
                 newest=newest, filters=filters, languages=languages, outlets=outlets, marks=marks,
                 form=request.query_params)


def story_page(request: Request) -> Response:
    ws = _ws(request)
    article_id = request.path_params["article_id"]
    with ws.lock, open_reader(ws.database) as (db, freshness):
        cluster, members = db.story(article_id)
        marks = _marks(ws, db)
    if not members:
        return _page(request, "error.html.j2", 404, message="No stored article has this id.")
    return _page(request, "story.html.j2", freshness=freshness, cluster=cluster, members=members,
                 focus=article_id, marks=marks)


def search_page(request: Request) -> Response:
    ws = _ws(request)
    params = request.query_params
    text = params.get("q", "").strip()
    result, error, freshness, marks = None, "", None, {}
    if text:
        try:
            filters = make_filters(params.get("since"), params.get("until"), _values(request, "lang"),
                                   _values(request, "source"), params.get("topic") or None, ws.config)
            with ws.lock, open_reader(ws.database) as (db, freshness):
                result = search(db, text, ws.config.entities, filters,
                                "newest" if params.get("sort") == "newest" else "relevance")
                marks = _marks(ws, db)
        except SearchError as err:
            error = str(err)
    return _page(request, "search.html.j2", 400 if error else 200, q=text, result=result, error=error,
                 freshness=freshness, marks=marks, form=params,
                 languages=sorted({f.language for f in ws.config.feeds}), outlets=[f.name for f in ws.config.feeds])


def feeds_page(request: Request) -> Response:
    ws = _ws(request)
    with ws.lock, open_reader(ws.database) as (db, freshness):
        known = db.feed_health()
    at = now()
    settings = ws.config.settings.health
    rows = []
    for feed in ws.config.feeds:
        health = known.get(feed.name)
        due = next_fetch(health, settings) if health else None
        rows.append((feed, health, health_state(health, settings, at) if feed.enabled else "disabled",
                     due if due and due > at else None))
    return _page(request, "feeds.html.j2", freshness=freshness, rows=rows)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by every client; the CSRF token still decides
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "") and parts.scheme == request.url.scheme


def _back(target: str, flash: str) -> str:
    """A same-site path to return to after a plain form post (never another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        parts = urlsplit("/")
    query = [(k, v) for k, v in parse_qs(parts.query).items() if k != "flash"]
    pairs = [(k, value) for k, values in query for value in values] + [("flash", flash)]
    return f"{parts.path}?{urlencode(pairs)}"


async def feedback_post(request: Request) -> Response:
    ws = _ws(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}

    def fail(status: int, message: str) -> Response:
        if wants_json:
            return JSONResponse({"ok": False, "error": message}, status_code=status)
        return _page(request, "error.html.j2", status, message=message)

    if not _same_origin(request) or not ws.csrf.valid(request.cookies.get(SESSION_COOKIE), form.get("csrf")):
        return fail(403, "This form has expired or did not come from this page: reload the page and try again.")
    kind, topic, article = form.get("kind", ""), form.get("topic", ""), form.get("article", "").strip()
    if kind not in FEEDBACK_KINDS:
        return fail(400, "Unknown kind of feedback.")
    if topic not in ws.topic_names():
        return fail(400, "Choose one of the configured topics.")
    if not article:
        return fail(400, "Which article? Give its URL.")
    try:
        with ws.lock:
            item, stored = feedback.record(ws.database, kind, topic, article, form.get("note", "")[:500], "web")
    except FeedbackError as error:
        return fail(400, str(error))
    except StorageError as error:
        return fail(503, f"Not recorded: {error}")
    state = "stored" if stored else "queued"
    if wants_json:
        label = "not relevant" if kind == "not_relevant" else "missed"
        return JSONResponse({"ok": True, "state": state, "kind": kind, "topic": topic, "article": item.article_id,
                             "message": f"Marked {label} for {topic}" + ("" if stored else " (queued until the running ingest ends)")})
    return RedirectResponse(_back(form.get("next", "/"), state), status_code=303)


def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response("not found", status_code=404)
    return FileResponse(templates_dir() / "web" / "static" / name, media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache"})


def shared_css(request: Request) -> Response:
    return FileResponse(templates_dir() / "style.css", media_type="text/css", headers={"Cache-Control": "no-cache"})


class _Guard:
    """ASGI middleware: authentication, the session cookie, security headers."""

    def __init__(self, app: Starlette):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        ws: Workspace = self.app.state.workspace
        session = request.cookies.get(SESSION_COOKIE)
        fresh_session = None if session else ws.csrf.new_session()
        request.state.session = session or fresh_session

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                if fresh_session:
                    cookie = f"{SESSION_COOKIE}={fresh_session}; Path=/; HttpOnly; SameSite=Strict"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        if not ws.auth.allows(request.headers.get("authorization")):
            response = Response("Sign in with the newswatch token or user name and password.", status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="newswatch", charset="UTF-8"'})
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _storage_error(request: Request, error: Exception) -> Response:
    return _page(request, "error.html.j2", 503, message=str(error))


def create_app(config: Config, database: Path, auth: Auth, csrf: Csrf | None = None) -> Callable[..., Awaitable[None]]:
    """The ASGI application of the workspace."""
    app = Starlette(routes=[
        Route("/", overview),
        Route("/topics/{name:path}", topic_page),
        Route("/stories/{article_id}", story_page),
        Route("/search", search_page),
        Route("/feeds", feeds_page),
        Route("/feedback", feedback_post, methods=["POST"]),
        Route("/static/style.css", shared_css),
        Route("/static/{name}", static_file),
    ], exception_handlers={StorageError: _storage_error})
    app.state.workspace = Workspace(config, database, auth, csrf or Csrf(), threading.Lock())
    return _Guard(app)
