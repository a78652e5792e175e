"""Search the archive with the topic query language (docs/queries.md), and what the index stores.

A query is answered in two steps. The parsed query becomes a *plan* (:data:`SearchPlan`) that
the index (``storage.search_index``, through :class:`~storage.db.Database`) answers with
candidate articles, ranked by the matcher's own term scores; then the topic matcher
(:class:`newswatch.match.Matcher`) evaluates the query exactly on the candidates it shows,
which also yields the highlighted snippets. Queries the index answers exactly (words,
prefixes, AND / OR / NOT of them, ``title:``, ``lang:``) have an exact count; for the rest
(phrases, NEAR, ATLEAST) the candidates are a superset, and the count is exact when all of
them could be checked, else an estimate.

:func:`index_postings` is the other half: the postings of new articles, with words analysed
exactly as the matcher analyses them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from newswatch.config import TERMS_REF, Entity, Topic
from newswatch.errors import SearchError
from newswatch.match import Matcher, compile_topics, field_score
from newswatch.models import (
    AllPlan,
    AnyPlan,
    IndexInput,
    LangPlan,
    MatchedArticle,
    ScaledPlan,
    SearchFilters,
    SearchPlan,
    WordPlan,
)
from newswatch.query import (
    And,
    AtLeast,
    Boost,
    EntityRef,
    Field,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Term,
    entity_refs,
    parse_query,
    parse_listed_term,
)
from newswatch.render import StoryItem, clusters_by_article, collapse_stories
from newswatch.text import analyse, words
from storage.db import Database

VERIFY_BUDGET = 200  # candidates checked by the matcher at most per search
_CHUNK = 25  # candidates fetched and checked at a time
_TITLE, _BODY = 1, 2  # field bits of WordPlan.fields
SEARCH_TOPIC = "search"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Stories found for a query, best (or newest) first."""

    query: str
    stories: tuple[StoryItem, ...]
    total: int  # matching articles (duplicates and earlier versions excluded)
    exact: bool  # False: ``total`` is estimated from the candidates checked
    candidates: int
    seconds: float
    sort: str = "relevance"
    filters: SearchFilters = field(default_factory=SearchFilters)


def _plan(node: Node, entities: Mapping[str, Entity], fields: int = _TITLE | _BODY) -> tuple[SearchPlan, bool] | None:
    """The index plan of ``node`` and whether its docs are exactly the matcher's matches; None when
    it restricts nothing (a NOT, or an OR with one)."""
    if isinstance(node, Term):
        plans = [WordPlan(*_form(w.text, w.prefix), fields) for w in node.words]
        return (plans[0], not node.exact_case) if len(plans) == 1 else (AllPlan(tuple(plans)), False)
    if isinstance(node, EntityRef):
        return _plan(Or(tuple(parse_listed_term(a) for a in entities[node.name].aliases)), entities, fields)
    if isinstance(node, Lang):
        return LangPlan(node.code), True
    if isinstance(node, Or):
        subs = [_plan(op, entities, fields) for op in node.operands]
        if any(sub is None for sub in subs):
            return None
        return AnyPlan(tuple(p for p, _ in subs)), all(exact for _, exact in subs)
    if isinstance(node, And):
        return _all(node.operands, entities, fields)
    if isinstance(node, Near):
        sub = _all((node.left,) if node.exclude else (node.left, node.right), entities, fields)
        return sub and (sub[0], False)
    if isinstance(node, AtLeast):
        sub = _plan(node.operand, entities, fields)
        return sub and (sub[0], sub[1] and node.count == 1)
    if isinstance(node, Field):  # lede: the body's opening words, which the index does not tell apart
        sub = _plan(node.operand, entities, fields & (_TITLE if node.field == "title" else _BODY))
        return sub and (sub[0], sub[1] and node.field != "lede")
    if isinstance(node, Boost):
        sub = _plan(node.operand, entities, fields)
        return sub and (ScaledPlan(sub[0], node.factor), sub[1])
    return None  # NOT on its own restricts nothing


def _form(text: str, prefix: bool) -> tuple[str, bool]:
    key, surface = analyse(text)
    return (surface if prefix else key), prefix


def _all(operands: Sequence[Node], entities: Mapping[str, Entity], fields: int) -> tuple[SearchPlan, bool] | None:
    required, excluded, exact = [], [], True
    for op in operands:
        sub = _plan(op.operand if isinstance(op, Not) else op, entities, fields)
        if sub is None or (isinstance(op, Not) and not sub[1]):
            exact = False  # cannot restrict the candidates: the matcher decides
        elif isinstance(op, Not):
            excluded.append(sub[0])
        else:
            required.append(sub[0])
            exact = exact and sub[1]
    return (AllPlan(tuple(required), tuple(excluded)), exact) if required else None


def index_postings(first_doc: int, articles: Sequence[IndexInput]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The postings of ``articles`` (numbered from ``first_doc``) for ``Database.update_search_index``:
    columns (form, doc, impact, field) and the word forms (form, key, word) they refer to.

    ``impact`` is the matcher's score of the form in the article (:func:`newswatch.match.field_score`),
    ``field`` 1 for the title, 2 the body, 3 both.
    """
    forms: dict[tuple[str, str], int] = {}
    form_ids: list[int] = []
    docs: list[int] = []
    impacts: list[float] = []
    fields: list[int] = []
    for n, article in enumerate(articles):
        title = Counter(map(analyse, words(article.title or "")))
        body = Counter(map(analyse, words(article.text or "")))
        lengths = (sum(title.values()), sum(body.values()))
        scores: dict[tuple[int, int], float] = {}  # (field, count) -> score, for this article's lengths
        for form in title.keys() | body.keys():
            impact, mask = 0.0, 0
            for f, counts in enumerate((title, body)):
                if count := counts.get(form, 0):
                    if (f, count) not in scores:
                        scores[f, count] = field_score(f, count, lengths[f])
                    impact += scores[f, count]
                    mask |= 1 << f
            form_ids.append(forms.setdefault(form, len(forms)))
            docs.append(first_doc + n)
            impacts.append(impact)
            fields.append(mask)
    postings = {"form": np.array(form_ids, dtype=np.int32), "doc": np.array(docs, dtype=np.int32),
                "impact": np.array(impacts, dtype=np.float32), "field": np.array(fields, dtype=np.uint8)}
    vocabulary = {"form": np.arange(len(forms), dtype=np.int32),
                  "key": np.array([key for key, _ in forms], dtype=object),
                  "word": np.array([word for _, word in forms], dtype=object)}
    return postings, vocabulary


def _search_matcher(query: str, node: Node, entities: Mapping[str, Entity]) -> Matcher:
    for ref in entity_refs(node):
        if ref.name == TERMS_REF:
            raise SearchError(f"@{TERMS_REF} means a topic's own terms and has no meaning in a search;"
                              " filter by topic instead")
        if ref.name not in entities:
            known = ", ".join(f"@{e}" for e in sorted(entities)) or "none"
            raise SearchError(f"unknown entity @{ref.name} (defined: {known})")
    return compile_topics([Topic(name=SEARCH_TOPIC, query=query, min_score=0)], entities, semantic=False)


def search(
    db: Database,
    query: str,
    entities: Mapping[str, Entity] | None = None,
    filters: SearchFilters | None = None,
    sort: str = "relevance",
    limit: int = 20,
) -> SearchResult:
    """The best (``sort="newest"``: the latest) ``limit`` stories matching ``query``."""
    started = time.perf_counter()
    entities = entities or {}
    filters = filters or SearchFilters()
    if sort not in ("relevance", "newest"):
        raise SearchError(f"unknown sort {sort!r}: use relevance or newest")
    try:
        node = parse_query(query)
    except ValueError as err:
        raise SearchError(f"query {err}") from None
    matcher = _search_matcher(query, node, entities)
    plan = _plan(node, entities)
    if plan is None:  # parse_query makes sure a term is required; kept for safety
        raise SearchError("the query needs at least one word outside NOT")
    ranked, total = db.search_candidates(plan[0], filters, sort == "newest", VERIFY_BUDGET)
    exact, candidate_total = plan[1], total
    rows: list[MatchedArticle] = []
    stories: tuple[StoryItem, ...] = ()
    checked = 0
    while checked < len(ranked) and len(stories) < limit:
        # exact candidates: fetch what is shown (texts are slow to fetch); others: a chunk at a time
        size = max(limit - len(stories), 1) if exact else _CHUNK
        chunk = [article_id for article_id, _ in ranked[checked : checked + size]]
        stored = db.search_articles(chunk)
        checked += len(chunk)
        for article_id in chunk:
            a = stored.get(article_id)
            found = matcher.match(a[1], a[2], a[3]) if a else []
            if found:
                m = found[0]
                rows.append(MatchedArticle(a[0], SEARCH_TOPIC, m.score, m.terms, m.snippets, a[1], a[5], a[4],
                                           a[3], a[6], a[7], a[8]))
        stories = _stories(db, rows, sort)
    if not exact:
        if checked == total:
            total, exact = len(rows), True
        elif checked:
            total = round(total * len(rows) / checked)
    return SearchResult(query, stories[:limit], total, exact, candidate_total, time.perf_counter() - started, sort,
                        filters)


def _stories(db: Database, rows: list[MatchedArticle], sort: str) -> tuple[StoryItem, ...]:
    """One item per story (clusters collapsed), best or newest first."""
    if sort == "relevance":
        rows = sorted(rows, key=lambda r: (-r.score, -(r.published_at or r.discovered_at).timestamp()))
    return collapse_stories(rows, clusters_by_article(db.cluster_summaries([r.article_id for r in rows])))
