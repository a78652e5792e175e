"""Immediate alerts end to end: real ingest from a local news site, a real DuckDB file, Apprise
posting to a real webhook receiver on loopback (json:// and form://), and e-mail through a real
SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alert_helpers import alert, alert_config, alert_entry, statuses
from conftest import Article
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, Newsroom, paragraphs
from smtp_sink import SmtpServer
from webhook import Webhook

from newswatch.alerts import run_alerts, story_text, stream_name
from newswatch.channels import AppriseChannel
from newswatch.models import ClusterSummary, MatchedArticle, Snippet
from newswatch.render import StoryItem
from storage.db import open_database

HOOK = [{"name": "hook", "url_env": "NW_TEST_HOOK_URL"}]


@pytest.fixture
def room(site, tmp_path) -> Newsroom:
    """Feeds in four languages with the multilingual sample articles."""
    return Newsroom.with_samples(site, tmp_path)


def titles(hook: Webhook) -> list[str]:
    """First body line (the story title) of every JSON message received."""
    return [hit.json["message"].partition("\n")[0] for hit in hook.hits]


def test_each_new_story_is_alerted_once(room, hook):
    config = alert_config(room, HOOK, [alert_entry()])
    room.ingest(config)
    run = alert(config)
    assert run.failed == [] and [o.stories for o in run.outcomes] == [4]
    assert sorted(titles(hook)) == sorted(a.title for a in (CSTO_EN, PEACE_RU, CSTO_HY, PEACE_KA))
    csto = next(hit.json for hit in hook.hits if hit.json["message"].startswith(CSTO_EN.title))
    assert csto["title"] == "[newswatch] CSTO"
    lines = csto["message"].split("\n")
    assert lines[1].startswith("Daily · ") and lines[1].endswith(" UTC · en")
    assert lines[2].startswith("Why: CSTO: mentions “") and "“CSTO”" in lines[2] and "(score " in lines[2]
    assert lines[-1] == f"{room.site.url}/news/csto-summit?utm_source=rss"

    assert alert(config).outcomes[0].stories == 0  # nothing new: nothing sent
    room.ingest(config)
    assert alert(config).outcomes[0].stories == 0 and len(hook.hits) == 4
    later = Article("csto-2", "CSTO drills without Armenia", paragraphs("The CSTO held drills without Armenia."))
    room.publish("en", later)
    room.ingest(config)
    alert(config)
    assert titles(hook)[4:] == [later.title]
    assert statuses(config, stream_name("now", "hook")) == [("sent", 1, 0)] * 5


def test_min_score_is_per_alert(room, hook, monkeypatch):
    monkeypatch.setenv("NW_TEST_HOOK2_URL", hook.url("json"))
    channels = HOOK + [{"name": "strict", "url_env": "NW_TEST_HOOK2_URL"}]
    config = alert_config(room, channels, [alert_entry(), alert_entry(name="strong", channels=["strict"], min_score=6)])
    room.ingest(config)
    with open_database(config.settings.database) as db:
        scores = dict(db.con.execute("SELECT a.title, max(m.score) FROM matches m JOIN articles a ON a.id = m.article_id"
                                     " GROUP BY a.title").fetchall())
    run = alert(config)
    strong = [title for title, score in scores.items() if score >= 6]
    assert 0 < len(strong) < 4, scores  # the samples straddle the threshold
    assert [o.stories for o in run.outcomes] == [4, len(strong)]


def test_channel_down_then_back_delivers_exactly_once(room, hook):
    config = alert_config(room, HOOK, [alert_entry()])
    room.ingest(config)
    hook.stop()
    run = alert(config)
    [outcome] = run.failed
    assert outcome.stories == 0
    assert outcome.error.startswith("alert now on channel hook not delivered: channel hook (json://)")
    assert "the next run sends these stories" in outcome.error
    hook.start()
    hook.status = 503
    assert alert(config).failed  # up, but failing
    hook.status = 200
    assert alert(config).outcomes[0].stories == 4
    assert alert(config).outcomes[0].stories == 0
    assert len(hook.hits) == 4 and len(set(titles(hook))) == 4
    # the first message of each failing run failed, the later ones were not tried
    assert statuses(config, stream_name("now", "hook")) == [("failed", 1, 0)] * 2 + [("sent", 1, 0)] * 4


def test_secret_missing_then_set(room, hook, monkeypatch):
    config = alert_config(room, HOOK, [alert_entry()])
    room.ingest(config)
    monkeypatch.delenv("NW_TEST_HOOK_URL")
    [outcome] = alert(config).failed
    assert outcome.error == "channel hook: channel hook URL: environment variable NW_TEST_HOOK_URL is not set"
    monkeypatch.setenv("NW_TEST_HOOK_URL", hook.url("json"))
    assert alert(config).outcomes[0].stories == 4 and len(hook.hits) == 4


def test_form_webhook(room, hook, monkeypatch):
    monkeypatch.setenv("NW_TEST_HOOK_URL", hook.url("form"))
    config = alert_config(room, HOOK, [alert_entry(topics=["peace accord"])])
    room.ingest(config)
    alert(config)
    assert len(hook.hits) == 2 and {h.content_type for h in hook.hits} == {"application/x-www-form-urlencoded"}
    assert {h.form["message"].partition("\n")[0] for h in hook.hits} == {PEACE_RU.title, PEACE_KA.title}
    assert {h.form["title"] for h in hook.hits} == {"[newswatch] peace accord"}


def test_over_max_per_run_goes_into_one_summary(room, hook):
    config = alert_config(room, HOOK, [alert_entry(max_per_run=2)])
    room.ingest(config)
    assert alert(config).outcomes[0].stories == 4
    assert len(hook.hits) == 3
    more = hook.hits[2].json
    assert more["title"] == "[newswatch] 2 more stories"
    assert more["message"].startswith("2 more new stories for peace accord, CSTO, peacekeeping mandate")
    assert alert(config).outcomes[0].stories == 0 and len(hook.hits) == 3
    assert statuses(config, stream_name("now", "hook")) == [("sent", 1, 0), ("sent", 1, 0), ("sent", 0, 2)]


class Crash(BaseException):
    """The process dies while a message is being delivered."""


class CrashingChannel(AppriseChannel):
    """Delivers, then dies before the outcome is recorded (once)."""

    def deliver(self, raw: bytes, message_id: str):
        super().deliver(raw, message_id)
        raise Crash


def test_message_left_pending_by_a_crash_is_resent_as_is(room, hook):
    config = alert_config(room, HOOK, [alert_entry(topics=["CSTO"])])
    room.ingest(config)
    with open_database(config.settings.database) as db, pytest.raises(Crash):
        run_alerts(config, db, channels={"hook": CrashingChannel("hook", hook.url("json"))})
    assert statuses(config, stream_name("now", "hook")) == [("pending", 1, 0)]
    first = hook.hits[0].body
    run = alert(config)
    assert run.outcomes[0].redelivered == 1 and run.outcomes[0].stories == 1
    assert hook.hits[1].body == first  # the same message again, then only the other story
    assert len(hook.hits) == 3 and len(set(titles(hook))) == 2


def test_updates_are_sent_when_the_story_grows(room, hook):
    config = alert_config(room, HOOK, [alert_entry(topics=["CSTO"], send_updates=True)])
    room.ingest(config)
    alert(config)
    assert len(hook.hits) == 2
    copy = Article("csto-copy", "Armenia again skips CSTO summit", CSTO_EN.body)  # same story, another outlet
    room.publish("ru", copy)
    room.ingest(config)
    alert(config)
    [update] = hook.hits[2:]
    assert update.json["title"] == "[newswatch] CSTO (update)"
    assert update.json["message"].startswith("[update] ")
    assert "Also reported by: " in update.json["message"] and "(2 articles)" in update.json["message"]


def test_email_channel_and_smtp_down_then_up(room, hook):
    smtp = SmtpServer().start()
    try:
        mail = {"sender": "newswatch <alerts@example.org>", "transport": "smtp",
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout": 5}}
        channels = [{"name": "desk", "email": ["Desk <desk@example.org>"]}]
        config = alert_config(room, channels, [alert_entry(channels=["desk"], topics=["peace accord"])], mail)
        room.ingest(config)
        smtp.stop()
        [outcome] = alert(config).failed
        assert f"cannot connect to SMTP server 127.0.0.1:{smtp.port}" in outcome.error
        smtp.start()
        assert alert(config).outcomes[0].stories == 2
        assert alert(config).outcomes[0].stories == 0
        assert len(smtp.received) == 2
        message = smtp.received[0].message
        assert message["Subject"].startswith("[newswatch] peace accord: ")
        assert message["To"] == "Desk <desk@example.org>" and message["X-Newswatch-Alert"] == "desk"
        text = message.get_body(("plain",)).get_content()
        assert "Why: peace accord: mentions" in text
        assert "<a href=\"http" in message.get_body(("html",)).get_content()
    finally:
        smtp.stop()


def sample_story() -> StoryItem:
    """A fixed story reported by three outlets, for the exact message text."""
    found = datetime(2025, 5, 12, 9, 40, tzinfo=UTC)
    article = MatchedArticle(
        "a1", "peace accord", 7.5, ("мирный договор", "peace treaty"),
        (Snippet("стороны согласовали мирный договор", ((20, 34),)),),
        "Ереван и Баку согласовали текст мирного договора", "https://news.example.am/ru/peace-deal",
        "Novosti", "ru", datetime(2025, 5, 12, 9, 15, tzinfo=UTC), found, "extracted",
    )
    cluster = ClusterSummary("c1", "a1", "Novosti", article.title, article.url, 3,
                             ("Akhali", "Daily", "Novosti"), found, found, ("a1", "a2", "a3"))
    return StoryItem(article, cluster)


def test_story_message_text():
    text = story_text(sample_story())
    assert text.title == "[newswatch] peace accord"
    assert text.body == (
        "Ереван и Баку согласовали текст мирного договора\n"
        "Novosti · 2025-05-12 09:15 UTC · ru\n"
        "Why: peace accord: mentions “мирный договор”, “peace treaty” (score 7.5)\n"
        "Also reported by: Akhali, Daily (3 articles)\n"
        "https://news.example.am/ru/peace-deal"
    )


@pytest.mark.slow
def test_ingest_flow_sends_alerts_and_writes_feeds(room, hook, prefect_server, monkeypatch):
    from prefect.blocks.system import Secret

    from flows.ingest import ingest_flow

    monkeypatch.delenv("NW_TEST_HOOK_URL")
    Secret(value=hook.url("json")).save("newswatch-test-hook", overwrite=True)  # the URL from a Secret block
    config = alert_config(room, [{"name": "hook", "url_block": "newswatch-test-hook"}], [alert_entry()])
    stats = ingest_flow(sources=str(room.tmp_path / "sources.yaml"))
    assert stats["published"]["alerts"] == "4 story alerts, 0 spike alerts sent"
    assert len(hook.wait_for(4)) == 4
    assert sorted(p.rsplit("/", 1)[1] for p in stats["published"]["feeds"]) == [
        "topic-csto.xml", "topic-peace-accord.xml", "topic-peacekeeping-mandate.xml"]
    assert all(path.startswith(str(config.settings.feeds_out.dir)) for path in stats["published"]["feeds"])
    later = Article("csto-2", "CSTO drills without Armenia", paragraphs("The CSTO held drills without Armenia."))
    room.publish("en", later)
    hook.stop()
    down = ingest_flow(sources=str(room.tmp_path / "sources.yaml"))  # a channel down does not fail the ingest
    assert down["new_articles"] == 1 and down["published"]["alerts"].startswith("0 story alerts, 0 spike alerts sent;"
                                                                                " failed: now on hook: alert now on")
    hook.start()
    ingest_flow(sources=str(room.tmp_path / "sources.yaml"))
    assert len(hook.hits) == 5 and titles(hook)[4] == later.title


def test_alerts_commands(room, hook, monkeypatch):
    from typer.testing import CliRunner

    from newswatch.cli import app

    config = alert_config(room, HOOK, [alert_entry(topics=["CSTO"])])
    room.ingest(config)
    sources = str(room.tmp_path / "sources.yaml")
    runner = CliRunner()
    tested = runner.invoke(app, ["alerts", "test", "hook", "--sources", sources])
    assert tested.exit_code == 0 and "hook: test message delivered" in tested.output
    assert hook.hits[0].json["title"] == "[newswatch] test"
    hook.stop()
    failed = runner.invoke(app, ["alerts", "send", "--sources", sources])
    assert failed.exit_code == 3 and "now -> hook: 0 stories, 0 spikes, 0 re-sent; failed: alert now on" in failed.output
    hook.start()
    sent = runner.invoke(app, ["alerts", "send", "--sources", sources])
    assert sent.exit_code == 0 and "now -> hook: 2 stories, 0 spikes, 0 re-sent; ok" in sent.output
    assert len(hook.hits) == 3
    monkeypatch.delenv("NW_TEST_HOOK_URL")
    missing = runner.invoke(app, ["alerts", "test", "hook", "--sources", sources])
    assert missing.exit_code == 3
    assert "Secret not available: channel hook URL: environment variable NW_TEST_HOOK_URL is not set" in missing.output
