"""Digests end to end: real ingest from a local news site, a real DuckDB file, and a real SMTP
server on loopback (aiosmtpd). Assertions parse the MIME messages the server received."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import duckdb
import pytest
from conftest import Article
from digest_helpers import (
    CSTO_EN,
    CSTO_HY,
    PEACE_KA,
    PEACE_RU,
    RECIPIENTS,
    SENDER,
    WINE,
    Newsroom,
    digest_entry,
    mail_settings,
    paragraphs,
)
from smtp_sink import SmtpServer

from newswatch.config import Config
from newswatch.digest import run_digest
from newswatch.errors import DeliveryError
from newswatch.mail import SmtpTransport, transport_for
from storage.db import open_database


@pytest.fixture
def smtp():
    """A running SMTP server on loopback."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def room(site, tmp_path) -> Newsroom:
    """Feeds in four languages with the multilingual sample articles."""
    return Newsroom.with_samples(site, tmp_path)


def smtp_mail(server: SmtpServer) -> dict:
    """``settings.mail`` delivering to ``server`` (plain SMTP on loopback)."""
    return mail_settings(transport="smtp", smtp={"host": "127.0.0.1", "port": server.port, "security": "none",
                                                 "timeout": 30})


def send(config: Config, name: str = "brief"):
    """Run one digest through the configured transport."""
    with open_database(config.settings.database) as db:
        return run_digest(config, db, config.digest(name), transport_for(config.settings.mail))


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a received digest, with ``\n`` line ends."""
    return tuple(message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))


def titles_in(text: str) -> list[str]:
    """Story titles listed in a plain-text digest, in order."""
    return re.findall(r"^\* (?:\[update\] )?(.+)$", text, flags=re.MULTILINE)


def sends(config: Config) -> list[tuple[str, int, int]]:
    """(status, listed, omitted) of every stored digest message, oldest first."""
    with open_database(config.settings.database) as db:
        return [(r.status, r.listed, r.omitted) for r in reversed(db.digest_history("brief"))]


def test_digest_is_delivered_as_multipart_utf8_mail(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    result = send(config)

    assert result.status == "sent" and result.listed == 4
    [received] = smtp.received
    assert received.mail_from == "alerts@example.org"
    assert received.rcpt_tos == ["analysts@example.org", "ops@example.org"]
    assert max(received.data) < 128, "7-bit clean: every non-ASCII byte is transfer-encoded"
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    assert all(p["Content-Transfer-Encoding"] in ("base64", "quoted-printable") for p in message.iter_parts())
    assert message["Subject"] == "Caucasus brief: 4 new (peace accord 2, CSTO 2)"
    assert message["From"] == SENDER and message["To"] == ", ".join(RECIPIENTS)
    assert message["Message-ID"] == result.message_id and message["Message-ID"].endswith("@example.org>")
    assert message["List-Unsubscribe"] == "<mailto:alerts@example.org?subject=unsubscribe%20brief>"
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"

    text, html = parts(message)
    # grouped by topic in the digest's topic order; Cyrillic, Armenian and Georgian intact
    assert text.index("== peace accord (2) ==") < text.index("== CSTO (2) ==")
    assert "== peacekeeping mandate" not in text  # topics without news are left out
    for article in (PEACE_RU, PEACE_KA, CSTO_HY, CSTO_EN):
        assert article.title in text and article.title in html
        assert f"{room.site.url}/news/{article.slug}" in text
        assert f'href="{room.site.url}/news/{article.slug}' in html
    assert WINE.title not in text
    assert "[[мирный договор]]" in text and "<mark" in html and "ՀԱՊԿ</mark>" in html
    assert "| ru" in text and 'lang="hy"' in html and "+04" in text  # language, Yerevan time
    # CSS is inlined for Gmail/Outlook: no <style> block, styles on the elements
    assert "<style" not in html and re.search(r'<h2 style="[^"]*color: ?#2b5797', html)
    assert "All 4 feeds healthy." in text and "Unsubscribe" in html


def test_nothing_is_sent_twice_and_empty_windows_send_nothing(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    assert send(config).listed == 4
    room.ingest(config)  # nothing new on the feeds
    assert send(config).status == "empty"
    room.publish("en", Article("csto-2", "CSTO drills without Armenia", paragraphs("The CSTO held drills without Armenia.")))
    room.ingest(config)
    result = send(config)
    assert len(smtp.received) == 2 and result.listed == 1
    text, _ = parts(smtp.received[1].message)
    assert titles_in(text) == ["CSTO drills without Armenia"]
    assert "New since the last digest" in text
    assert sends(config) == [("sent", 4, 0), ("sent", 1, 0)]


def test_send_even_if_empty(room, smtp):
    config = room.config([digest_entry(topics=["peacekeeping mandate"], send_empty=True)], smtp_mail(smtp))
    room.ingest(config)
    result = send(config)
    assert result.status == "sent" and result.listed == 0
    text, html = parts(smtp.received[0].message)
    assert smtp.received[0].message["Subject"] == "Caucasus brief: nothing new"
    assert "Nothing new matched your topics (peacekeeping mandate)." in text and "Nothing new matched" in html


def test_window_spans_a_failed_run(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    first = send(config)
    assert first.listed == 4
    b = Article("csto-b", "CSTO secretary visits Yerevan", paragraphs("The CSTO secretary general visited Yerevan."))
    room.publish("en", b)
    room.ingest(config)
    smtp.stop()
    with pytest.raises(DeliveryError, match="cannot connect to SMTP server"):
        send(config)
    c = Article("csto-c", "Moscow criticises Armenia over CSTO", paragraphs("Moscow criticised Armenia over the CSTO."))
    room.publish("en", c)
    room.ingest(config)
    smtp.start()
    second = send(config)
    assert second.listed == 2
    assert len(smtp.received) == 2
    text, _ = parts(smtp.received[1].message)
    assert sorted(titles_in(text)) == sorted([b.title, c.title])
    with open_database(config.settings.database) as db:
        history = db.digest_history("brief")
    assert [r.status for r in history] == ["sent", "failed", "sent"]
    assert history[0].window_start == history[2].cutoff  # covers everything since the last sent digest
    assert "Connection refused" in history[1].error


def test_smtp_down_then_up_delivers_exactly_once(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    smtp.stop()
    with pytest.raises(DeliveryError) as failure:
        send(config)
    assert f"127.0.0.1:{smtp.port}" in str(failure.value) and "next run sends these stories" in str(failure.value)
    assert sends(config) == [("failed", 4, 0)]
    smtp.start()
    assert send(config).listed == 4
    assert send(config).status == "empty"
    assert len(smtp.received) == 1
    assert len(titles_in(parts(smtp.received[0].message)[0])) == 4


def test_refused_message_is_not_marked_sent(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    smtp.sink.refuse_data = "554 5.7.1 Message rejected as spam"
    with pytest.raises(DeliveryError, match="refused the message: 554 5.7.1 Message rejected as spam"):
        send(config)
    smtp.sink.refuse_data = None
    assert send(config).listed == 4
    assert len(smtp.received) == 1 and sends(config) == [("failed", 4, 0), ("sent", 4, 0)]


def test_unconfirmed_delivery_is_resent_with_the_same_message_id(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    smtp.sink.drop_after_data = 1  # the server stores the message but hangs up before answering
    with pytest.raises(DeliveryError, match="unconfirmed.*same Message-ID"):
        send(config)
    assert sends(config) == [("pending", 4, 0)]
    room.publish("en", Article("csto-late", "CSTO late news", paragraphs("Late news about the CSTO, the Russia-led military alliance.")))
    room.ingest(config)
    result = send(config)
    assert len(result.redelivered) == 1
    first, again, new = smtp.received
    assert again.data == first.data and again.message["Message-ID"] == result.redelivered[0]
    assert titles_in(parts(new.message)[0]) == ["CSTO late news"]  # the new message holds only new stories
    assert sends(config) == [("sent", 4, 0), ("sent", 1, 0)]


def test_titles_with_newlines_and_html_cannot_inject(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    evil = "Evil\r\nBcc: victim@example.org\r\n\r\n<script>alert(1)</script><b>CSTO</b>"
    con = duckdb.connect(str(config.settings.database))
    con.execute("UPDATE articles SET title = ?, url = 'javascript:alert(1)' WHERE url LIKE '%csto-summit%'", [evil])
    con.close()
    send(config)
    [received] = smtp.received
    message = received.message
    assert received.rcpt_tos == ["analysts@example.org", "ops@example.org"]
    assert message["Bcc"] is None and "victim" not in str(message.items())
    text, html = parts(message)
    assert "* Evil Bcc: victim@example.org <script>alert(1)</script><b>CSTO</b>" in text  # one line, as text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html and "javascript:" not in text


def test_story_from_several_outlets_appears_once(room, smtp):
    twin = Article("csto-copy", CSTO_EN.title, CSTO_EN.body)  # same text on another outlet
    room.publish("ru", twin)
    config = room.config([digest_entry(send_updates=True)], smtp_mail(smtp))
    room.ingest(config)
    send(config)
    text, html = parts(smtp.received[0].message)
    assert titles_in(text).count(CSTO_EN.title) == 1
    assert re.search(r"also reported by (Novosti|Daily) · 2 articles in this story", text)
    assert "also reported by" in html
    # a third outlet joins the story: with send_updates it comes again, marked as an update
    room.publish("hy", Article("csto-copy-2", CSTO_EN.title, CSTO_EN.body))
    room.ingest(config)
    send(config)
    text, _ = parts(smtp.received[1].message)
    assert titles_in(text) == [CSTO_EN.title] and "[update]" in text
    assert re.search(r"also reported by \w+, \w+ · 3 articles in this story", text)


@pytest.mark.parametrize(("digest_says", "clusters_say", "resent"), [
    (None, False, False), (False, True, False), (None, True, True),
])
def test_updates_are_sent_only_when_asked(room, smtp, digest_says, clusters_say, resent):
    settings = {"clusters": {"send_updates": clusters_say}}
    config = room.config([digest_entry(send_updates=digest_says)], smtp_mail(smtp), **settings)
    room.ingest(config)
    send(config)
    room.publish("ru", Article("csto-copy", CSTO_EN.title, CSTO_EN.body))
    room.ingest(config)
    assert send(config).status == ("sent" if resent else "empty")
    assert len(smtp.received) == (2 if resent else 1)


def test_min_score_and_max_items(room, smtp):
    config = room.config([digest_entry(min_score=15, max_items=1)], smtp_mail(smtp))
    room.ingest(config)
    with open_database(config.settings.database) as db:
        scores = dict(db.con.execute(
            "SELECT a.title, m.score FROM matches m JOIN articles a ON a.id = m.article_id").fetchall())
    # the CSTO stories score far above 15, the peace accord stories far below
    assert min(scores[CSTO_EN.title], scores[CSTO_HY.title]) > 18
    assert max(scores[PEACE_RU.title], scores[PEACE_KA.title]) < 12
    best = max((CSTO_EN, CSTO_HY), key=lambda article: scores[article.title])
    result = send(config)
    assert (result.listed, result.omitted) == (1, 1)
    message = smtp.received[0].message
    text, html = parts(message)
    assert titles_in(text) == [best.title]  # best first
    assert PEACE_RU.title not in text and PEACE_KA.title not in text
    assert "1 more not shown (limit 1)" in text and "not shown" in html
    assert message["Subject"] == "Caucasus brief: 2 new (CSTO 2)"
    # the omitted story was counted once; it does not come back
    assert send(config).status == "empty"


def test_late_matches_count_but_old_articles_do_not_flood(room, smtp, tmp_path):
    config = room.config([digest_entry(topics=["CSTO"])], smtp_mail(smtp))
    room.ingest(config)
    send(config)
    late = Article("csto-late", "CSTO statement", paragraphs("A statement by the CSTO secretary general."))
    old = Article("csto-old", "CSTO archive piece", paragraphs("An old piece about the CSTO military alliance."))
    room.publish("en", late, old)
    room.ingest(config)
    con = duckdb.connect(str(config.settings.database))
    # the late article was published a week ago but found now; the old one was found long ago
    con.execute("UPDATE articles SET published_at = published_at - INTERVAL 7 DAY WHERE url LIKE '%csto-late%'")
    con.execute("UPDATE articles SET discovered_at = discovered_at - INTERVAL 30 DAY WHERE url LIKE '%csto-old%'")
    con.close()
    send(config)
    assert titles_in(parts(smtp.received[1].message)[0]) == [late.title]


def test_dry_run_writes_files_and_records_nothing(room, tmp_path):
    config = room.config([digest_entry()])
    room.ingest(config)
    with open_database(config.settings.database) as db:
        result = run_digest(config, db, config.digest("brief"), None, dry_run_dir=tmp_path / "dry-run")
        assert db.digest_history() == []
    eml, html = result.files
    assert eml.endswith(".eml") and html.endswith(".html")
    assert "Ереван и Баку" in (tmp_path / "dry-run" / html).read_text(encoding="utf-8")
    assert result.message_id.strip("<>").split("@")[0] in eml


def test_outbox_transport_delivers_into_files(room, tmp_path):
    config = room.config([digest_entry()], mail_settings(outbox_dir=str(tmp_path / "outbox")))
    room.ingest(config)
    result = send(config)
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert result.status == "sent" and result.detail.startswith("outbox:")
    assert path.read_bytes().count(result.message_id.encode()) == 1
    assert sends(config) == [("sent", 4, 0)]


def test_two_digests_keep_separate_ledgers(room, smtp):
    config = room.config(
        [digest_entry(), digest_entry(name="csto-only", topics=["CSTO"], recipients=["csto@example.org"])],
        smtp_mail(smtp),
    )
    room.ingest(config)
    assert send(config, "csto-only").listed == 2
    assert send(config, "brief").listed == 4
    assert [r.rcpt_tos for r in smtp.received] == [["csto@example.org"], ["analysts@example.org", "ops@example.org"]]


def test_window_start_is_shown_in_the_digest_time_zone(room, smtp):
    config = room.config([digest_entry(schedule={"weekly": "monday 08:00", "timezone": "Asia/Tbilisi"})],
                         smtp_mail(smtp))
    room.ingest(config)
    first = send(config)
    room.publish("en", Article("csto-2", "CSTO again", paragraphs("The CSTO military bloc again.")))
    room.ingest(config)
    send(config)
    with open_database(config.settings.database) as db:
        cutoff = db.digest_history("brief")[1].cutoff
    assert first.status == "sent"
    local = (cutoff + timedelta(hours=4)).strftime("%Y-%m-%d %H:%M")
    assert f"New since the last digest ({local} +04)" in parts(smtp.received[1].message)[0]


class CrashingTransport(SmtpTransport):
    """Dies (as kill -9 would) after the message was stored, before the SMTP conversation."""

    def deliver(self, message, envelope):
        raise KeyboardInterrupt("simulated crash")


def test_crash_before_delivery_is_completed_by_the_next_run(room, smtp):
    config = room.config([digest_entry()], smtp_mail(smtp))
    room.ingest(config)
    with open_database(config.settings.database) as db, pytest.raises(KeyboardInterrupt):
        run_digest(config, db, config.digest("brief"), CrashingTransport(config.settings.mail.smtp, None))
    assert sends(config) == [("pending", 4, 0)] and smtp.received == []
    result = send(config)
    assert len(result.redelivered) == 1 and result.status == "empty"  # nothing else was due
    [received] = smtp.received
    assert received.message["Message-ID"] == result.redelivered[0]
    assert len(titles_in(parts(received.message)[0])) == 4
    assert sends(config) == [("sent", 4, 0)]
