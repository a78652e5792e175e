"""A changed topic is checked against the analysts' verdicts before ingest re-matches the archive
with it: ``topics check`` (precision and recall before -> after, the examples that flip),
ingest refusing a change that loses verdicts, ``topics accept`` (real DuckDB, real CLI runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Article, rss, write_sources

from newswatch.config import load_config
from newswatch.errors import TopicChangeRefused
from newswatch.feedback import record
from newswatch.pipeline import ingest
from newswatch.topic_changes import BY_OPERATOR, FIRST, NOTHING_LOST, compare, version_of
from newswatch.topic_eval import Example
from storage.db import open_database

TREATY = Article("treaty", "Armenia and Azerbaijan initial the peace treaty",
                 "The foreign ministers of Armenia and Azerbaijan initialled the text of the peace treaty.")
DERBY = Article("derby", "Yerevan clubs sign a peace deal after the derby",
                "Two Yerevan football clubs signed a peace deal after their derby, the federation said.")


def _edit(sources: Path, topic: str, **changes) -> None:
    """Change fields of one topic in sources.yaml, as an operator would."""
    data = yaml.safe_load(sources.read_text(encoding="utf-8"))
    for entry in data["topics"]:
        if entry["name"] == topic:
            entry.update(changes)
    sources.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _cli(*args: str, sources: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newswatch", *args, "--sources", str(sources)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def _matched(config) -> set[str]:
    with open_database(config.settings.database) as db:
        return {row[0] for row in db.con.execute(
            "SELECT a.title FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.topic = 'peace accord'"
        ).fetchall()}


def test_a_change_that_loses_verdicts_waits_for_the_operator(site, tmp_path):
    from werkzeug import Response

    for article in (TREATY, DERBY):
        site.articles[article.slug] = article
    feed = site.route("/rss.xml", lambda request: Response(rss(site.url, [TREATY, DERBY]),
                                                           content_type="application/rss+xml"))
    sources = write_sources(tmp_path, [{"name": "Daily", "url": feed, "language": "en"}])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        assert {v.how for v in db.topic_versions().values()} == {FIRST}
        urls = dict(db.con.execute("SELECT title, url FROM articles").fetchall())
    assert _matched(config) == {TREATY.title}
    # the analysts: the treaty belongs to the topic, the derby does not
    record(config.settings.database, "missed", "peace accord", urls[TREATY.title], "the initialling")
    record(config.settings.database, "not_relevant", "peace accord", urls[DERBY.title], "football")

    # a change that gets no verdict wrong: checked, and accepted by the next ingest on its own
    _edit(sources, "peace accord", min_score=1.5)
    result = _cli("topics", "check", "peace accord", sources=sources)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "peace accord: changed since the version accepted" in result.stdout
    assert "(first version); on 2 examples: precision 1.000 -> 1.000, recall 1.000 -> 1.000; 0 flip" in result.stdout
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        assert db.topic_versions()["peace accord"].how == NOTHING_LOST

    # a change that loses the confirmed match: check shows it and fails, ingest refuses it
    _edit(sources, "peace accord", min_score=50)
    result = _cli("topics", "check", sources=sources)
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout
    assert "CSTO: unchanged since the version accepted" in out
    assert "precision 1.000 -> 1.000, recall 1.000 -> 0.000; 1 flip, 1 from right to wrong" in out
    assert f"WRONG (now missed): {TREATY.title} [{urls[TREATY.title]}, feedback (missed)]" in out
    assert "held    the peace terms make the score" in out  # its clauses hold: the score is too low
    assert "Topic change not accepted" in result.stdout + result.stderr
    assert "1 confirmed matches lost" in result.stdout + result.stderr
    config = load_config(sources)
    with open_database(config.settings.database) as db, pytest.raises(TopicChangeRefused) as refused:
        ingest(config, db)
    assert "`newswatch topics accept 'peace accord'`" in str(refused.value)
    assert refused.value.exit_code == 2
    assert _matched(config) == {TREATY.title}  # the archive keeps the matches of the accepted version

    # the operator accepts it: the next ingest re-matches the archive with it
    result = _cli("topics", "accept", "peace accord", "--note", "only wire items from now on", sources=sources)
    assert result.returncode == 0, result.stderr
    assert "accepted: peace accord (version " in result.stdout
    with open_database(config.settings.database) as db:
        version = db.topic_versions()["peace accord"]
        assert (version.how, version.note) == (BY_OPERATOR, "only wire items from now on")
        ingest(config, db)
    assert _matched(config) == set()
    result = _cli("topics", "check", "peace accord", sources=sources)
    assert result.returncode == 0 and "unchanged since the version accepted" in result.stdout


def test_flips_say_which_way_and_a_description_is_no_change(tmp_path):
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": "http://127.0.0.1:9/rss.xml", "language": "en"}]))
    topic = next(t for t in config.topics if t.name == "peace accord")
    accepted = version_of(topic, config.entities, FIRST)
    reworded = topic.model_copy(update={"description": "reworded, same matches"})
    assert version_of(reworded, config.entities, FIRST).fingerprint == accepted.fingerprint
    examples = [Example("t", TREATY.title, TREATY.body, "en", False, "labelled.yaml"),
                Example("d", DERBY.title, DERBY.body, "en", False, "labelled.yaml")]
    stricter = topic.model_copy(update={"min_score": 50})
    change = compare(config, stricter, accepted, examples)
    assert change.changed and len(change.flips) == 1
    (flip,) = change.flips
    assert flip.before.matched and not flip.after.matched and not flip.regression  # wrong -> right
    assert (change.before.precision, change.after.precision) == (0.0, 1.0)
    entities = {**config.entities, "armenia": config.entities["armenia"].model_copy(update={"aliases": ["Armenia"]})}
    assert version_of(topic, entities, FIRST).fingerprint != accepted.fingerprint  # an entity it names changed


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_ingest_command_refuses_a_change_that_loses_verdicts_with_exit_2(site, tmp_path):
    from prefect.settings import get_current_settings

    sources = write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", [TREATY]), "language": "en"}])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        url = db.con.execute("SELECT url FROM articles").fetchone()[0]
    record(config.settings.database, "missed", "peace accord", url)
    _edit(sources, "peace accord", min_score=50)
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "newswatch", "ingest", "--sources", str(sources)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Topic change not accepted" in result.stderr
    assert "1 confirmed matches lost" in result.stderr and "newswatch topics accept 'peace accord'" in result.stderr
    assert _matched(config) == {TREATY.title}
