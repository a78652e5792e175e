"""``newswatch topics test``: a topic's current query against feedback and labelled examples,
with the clauses that held for each miss and false alarm."""

from __future__ import annotations

import subprocess
import sys

import yaml
from conftest import REPO, write_sources

from newswatch.config import load_config
from newswatch.feedback import record
from newswatch.topic_eval import clause_names, evaluate_topic, labelled_examples
from storage.db import open_database

SPORT = {"id": "derby", "lang": "en", "title": "Yerevan clubs sign a peace deal after the derby",
         "body": "Two Yerevan football clubs signed a peace deal after their derby, the federation said.",
         "topics": ["peace accord"]}  # labelled on topic on purpose: the topic (rightly) misses it
TREATY = {"id": "treaty", "lang": "en", "title": "Armenia and Azerbaijan initial the peace treaty",
          "body": "The foreign ministers of Armenia and Azerbaijan initialled the text of the peace treaty.",
          "topics": []}  # labelled off topic on purpose: a false alarm


def test_clauses_are_named_by_their_comments():
    topic = next(t for t in load_config(REPO / "sources.yaml").topics if t.name == "peace accord")
    names = clause_names(topic)
    assert names[0].startswith("the peace terms make the score")
    assert any(name.startswith("the treaty is the subject") for name in names)
    assert len(names) == 4


def test_misses_and_false_alarms_show_which_clauses_held(tmp_path):
    labelled = tmp_path / "labelled.yaml"
    labelled.write_text(yaml.safe_dump([SPORT, TREATY], allow_unicode=True), encoding="utf-8")
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": "http://127.0.0.1:9/rss.xml", "language": "en"}]))
    result = evaluate_topic(config, "peace accord", labelled_examples(labelled, "peace accord"))
    assert (result.precision, result.recall) == (0.0, 0.0)
    missed, alarm = (next(v for v in result.verdicts if v.example.ref == ref) for ref in ("derby", "treaty"))
    assert missed.wrong and not missed.matched and alarm.wrong and alarm.matched
    assert all(held for _, held in alarm.clauses)
    failed = [name for name, held in missed.clauses if not held]
    assert failed and any("not about sport" in name for name in failed)


def test_the_command_reads_feedback_and_labelled_examples(site, tmp_path):
    from conftest import Article, rss
    from werkzeug import Response

    from newswatch.pipeline import ingest

    treaty = Article("treaty", TREATY["title"], TREATY["body"])
    site.articles["treaty"] = treaty
    feed = site.route("/rss.xml", lambda request: Response(rss(site.url, [treaty]), content_type="application/rss+xml"))
    sources = write_sources(tmp_path, [{"name": "Daily", "url": feed, "language": "en"}])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        url = db.con.execute("SELECT url FROM articles").fetchone()[0]
    record(config.settings.database, "not_relevant", "peace accord", url, "testing")
    labelled = tmp_path / "labelled.yaml"
    labelled.write_text(yaml.safe_dump([SPORT], allow_unicode=True), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "newswatch", "topics", "test", "peace accord",
                             "--labelled", str(labelled), "--sources", str(sources)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "peace accord: 2 examples (1 should match): precision 0.000, recall 0.000" in out
    assert f"false alarm: {TREATY['title']} [{url}, feedback (not relevant)]" in out
    assert f"missed: {SPORT['title']} [derby, labelled.yaml]" in out
    assert "FAILED  a peace term that is not about sport" in out
