"""Export: matches and stories of a window from a real ingest, written by DuckDB's COPY and read
back with DuckDB (read_csv, read_json, read_parquet)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from conftest import Article
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, WINE, Newsroom
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.export import COLUMNS, export_matches, format_for
from storage.db import now, open_database

COPY = Article("csto-copy", "Armenia again skips CSTO summit", CSTO_EN.body)  # the same story elsewhere


@pytest.fixture
def config(site, tmp_path):
    room = Newsroom(site, tmp_path)
    room.publish("en", CSTO_EN, WINE)
    room.publish("ru", PEACE_RU, COPY)
    room.publish("hy", CSTO_HY)
    room.publish("ka", PEACE_KA)
    loaded = room.config([])
    room.ingest(loaded)
    return loaded


def expected(config) -> list[tuple]:
    """(article_id, topic, score, title, outlet, url) of every match, from the store."""
    with open_database(config.settings.database) as db:
        rows = db.matches_between(now() - timedelta(days=1), now())
    return sorted((r.article_id, r.topic, r.score, r.title, r.feed_name, r.url) for r in rows)


READERS = {"csv": "read_csv", "jsonl": "read_json", "parquet": "read_parquet"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_loads_back_with_duckdb(config, tmp_path, fmt):
    out = tmp_path / f"matches.{fmt}"
    with open_database(config.settings.database) as db:
        count = export_matches(db, now() - timedelta(days=1), now(), out, fmt)
    want = expected(config)
    assert count == len(want) == 5  # CSTO: 3 articles (2 in one story), peace accord: 2
    con = duckdb.connect()
    relation = con.sql(f"SELECT * FROM {READERS[fmt]}('{out}')")
    assert tuple(relation.columns) == COLUMNS
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    assert sorted((r["article_id"], r["topic"], r["score"], r["title"], r["outlet"], r["url"]) for r in rows) == want
    copy = next(r for r in rows if r["title"] == COPY.title)
    original = next(r for r in rows if r["title"] == CSTO_EN.title)
    assert copy["story_id"] == original["story_id"] and copy["story_size"] == 2
    also = copy["also_reported_by"]
    assert (also.split("; ") if fmt == "csv" else list(also)) == ["Daily"]
    terms = original["matched_terms"]
    assert "CSTO" in (terms.split("; ") if fmt == "csv" else list(terms))
    assert original["language"] == "en" and original["published"] is not None and original["found"] is not None
    assert not list(tmp_path.glob("*.partial"))


def test_export_command_window_topic_and_format(config, tmp_path):
    out = tmp_path / "csto.parquet"
    runner = CliRunner()
    sources = str(tmp_path / "sources.yaml")
    result = runner.invoke(app, ["export", "--hours", "24", "--topic", "CSTO", "--out", str(out), "--sources", sources])
    assert result.exit_code == 0, result.output
    assert "export: 3 matches" in result.output and "(parquet)" in result.output
    assert duckdb.sql(f"SELECT DISTINCT topic FROM read_parquet('{out}')").fetchall() == [("CSTO",)]
    since = (now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    future = runner.invoke(app, ["export", "--since", since, "--until", since, "--out", str(out), "--sources", sources])
    assert future.exit_code == 2 and "the window is empty" in future.output
    unknown = runner.invoke(app, ["export", "--topic", "nope", "--out", str(tmp_path / "x.csv"), "--sources", sources])
    assert unknown.exit_code == 2 and "unknown topic(s) nope" in unknown.output
    empty = runner.invoke(app, ["export", "--since", "2020-01-01", "--until", "2020-01-02", "--format", "jsonl",
                                "--out", str(tmp_path / "old.jsonl"), "--sources", sources])
    assert empty.exit_code == 0 and "export: 0 matches" in empty.output


def test_format_from_extension():
    from pathlib import Path

    assert format_for(Path("a.CSV")) == "csv" and format_for(Path("a.ndjson")) == "jsonl"
    assert format_for(Path("a.bin"), "parquet") == "parquet"
    with pytest.raises(ValueError, match="unknown export format '.xlsx'"):
        format_for(Path("a.xlsx"))
