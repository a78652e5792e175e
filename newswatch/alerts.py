"""Immediate alerts: new stories and volume spikes of a subscription's topics, sent to its
channels right after the ingest that found them, exactly once per channel.

Each (alert, channel) pair is one stream of the digest ledger (:mod:`storage.digests`) named
:func:`stream_name`, so alerts get the digests' guarantees: a story is due until a message
holding it was accepted; a message is stored as *pending* with its stories before delivery,
marked *sent* after, *failed* (stories due again) when delivery failed; a pending message
left by a crash is re-sent as it was before anything new. Stories are chosen exactly as for a
digest (:func:`newswatch.digest.select_stories`). A channel that fails is left for this run
(its later messages wait for the next run); the other channels go on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from newswatch.alert_config import Alert
from newswatch.channels import AlertChannel, AlertText, open_channel
from newswatch.config import Config
from newswatch.digest import Selection, redeliver, select_stories, settle
from newswatch.errors import DeliveryError
from newswatch.models import LedgerItem, MessageInfo
from newswatch.render import StoryItem, environment
from newswatch.spikes import Spike, detect, key_prefix
from storage.db import Database, now

log = logging.getLogger("newswatch.alerts")
TITLE_PREFIX = "[newswatch]"


@dataclass(frozen=True, slots=True)
class Stream:
    """An alert's stories on one channel, as :func:`select_stories` wants a subscription."""

    name: str
    topics: tuple[str, ...]
    min_score: float
    max_items: int
    lookback_hours: float


@dataclass(slots=True)
class ChannelOutcome:
    """What one alert did on one channel in a run."""

    alert: str
    channel: str
    stories: int = 0  # stories sent (one message each, plus the overflow message's)
    spikes: int = 0
    redelivered: int = 0
    error: str | None = None


@dataclass(slots=True)
class AlertsRun:
    """What :func:`run_alerts` did."""

    outcomes: list[ChannelOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ChannelOutcome]:
        """Channels whose delivery failed (their stories are due again)."""
        return [outcome for outcome in self.outcomes if outcome.error]

    def summary(self) -> str:
        """One line for logs and the command line."""
        stories = sum(o.stories for o in self.outcomes)
        spikes = sum(o.spikes for o in self.outcomes)
        failed = "; ".join(f"{o.alert} on {o.channel}: {o.error}" for o in self.failed)
        return f"{stories} story alerts, {spikes} spike alerts sent" + (f"; failed: {failed}" if failed else "")


def stream_name(alert: str, channel: str) -> str:
    """The ledger stream of ``alert`` on ``channel`` (``alert:<alert>><channel>``; digest names
    cannot contain ``:`` or ``>``, so it never meets a digest's)."""
    return f"alert:{alert}>{channel}"


def why_matched(story: StoryItem, entity_names: Mapping[str, str] | None = None) -> str:
    """In words, why the story matched: topic, the terms found (``@entity`` by its name from
    ``entity_names``), the score."""
    article = story.article
    names = entity_names or {}
    words = [names.get(term[1:], term[1:]) if term.startswith("@") else term
             for term in article.terms if not term.startswith("~meaning")]
    meaning = [term.split()[-1] for term in article.terms if term.startswith("~meaning")]
    reasons = []
    if words:
        reasons.append("mentions " + ", ".join(f"“{term}”" for term in words))
    if meaning:
        reasons.append(f"close in meaning to the topic's examples (similarity {meaning[0]})")
    topics = ", ".join((article.topic, *story.other_topics))
    return f"{topics}: {' and '.join(reasons) or 'matched'} (score {article.score:.1f})"


def entity_names(config: Config) -> dict[str, str]:
    """Entity id -> name, for saying which entity a story mentions."""
    return {key: entity.name for key, entity in config.entities.items()}


def story_text(story: StoryItem, names: Mapping[str, str] | None = None) -> AlertText:
    """A story alert: ``[newswatch] <topic>`` and title, outlet, why (``names``: of entities),
    also reported by, link."""
    why = why_matched(story, names)
    body = environment().get_template("alert_story.txt.j2").render(story=story, why=why)
    update = " (update)" if story.update else ""
    return AlertText(f"{TITLE_PREFIX} {story.article.topic}{update}", body.strip())


def overflow_text(items: Sequence[StoryItem], topics: Sequence[str], limit: int) -> AlertText:
    """One message for the stories over ``max_per_run``."""
    body = environment().get_template("alert_more.txt.j2").render(items=items, topics=topics, limit=limit)
    return AlertText(f"{TITLE_PREFIX} {len(items)} more stories", body.strip())


def spike_text(spike: Spike) -> AlertText:
    """A spike alert: counts against the usual level, and the stories that make it."""
    body = environment().get_template("alert_spike.txt.j2").render(spike=spike, stories=spike.stories)
    return AlertText(f"{TITLE_PREFIX} spike: {spike.topic}", body.strip())


def run_alerts(
    config: Config,
    db: Database,
    at: datetime | None = None,
    channels: Mapping[str, AlertChannel] | None = None,
) -> AlertsRun:
    """Send every alert's due stories and new spikes to its channels (see the module docstring).

    ``channels`` replaces the configured ones by name (tests, previews); others are opened from
    the configuration, their secrets read now. Never raises for a delivery problem: it is in
    the result (and logged), and the stories stay due.
    """
    at = at or now()
    opened: dict[str, AlertChannel | str] = dict(channels or {})
    spikes = _spikes(config, db, at)
    run = AlertsRun()
    for alert in config.alerts:
        for name in alert.channels:
            outcome = ChannelOutcome(alert.name, name)
            run.outcomes.append(outcome)
            try:
                if name not in opened:
                    opened[name] = _open(config, name)
                channel = opened[name]
                if isinstance(channel, str):  # could not be opened earlier in this run
                    raise DeliveryError(channel)
                _run_stream(config, db, alert, channel, at, spikes, outcome)
            except DeliveryError as err:
                outcome.error = str(err)
                log.warning("alert %s on channel %s: %s", alert.name, name, err)
    if config.alerts:
        log.info("alerts: %s", run.summary())
    return run


def _open(config: Config, name: str) -> AlertChannel | str:
    """The channel called ``name``, or why it cannot be opened."""
    channel = next(channel for channel in config.channels if channel.name == name)
    try:
        return open_channel(channel, config.settings.mail)
    except DeliveryError as err:  # MissingSecret too
        return f"channel {name}: {err}"


def _spikes(config: Config, db: Database, at: datetime) -> dict[str, Spike]:
    """Spikes of every topic some alert watches for spikes, by topic."""
    topics = dict.fromkeys(topic for alert in config.alerts if alert.spikes for topic in alert.topics)
    found = {topic: detect(db, topic, at, config.settings.spikes) for topic in topics}
    return {topic: spike for topic, spike in found.items() if spike}


def _run_stream(
    config: Config, db: Database, alert: Alert, channel: AlertChannel, at: datetime,
    spikes: Mapping[str, Spike], outcome: ChannelOutcome,
) -> None:
    """One alert on one channel: pending messages first, then new stories, then spikes."""
    name = stream_name(alert.name, channel.name)
    label = f"alert {alert.name} on channel {channel.name}"
    outcome.redelivered = len(redeliver(db, name, label, lambda record, raw: channel.deliver(raw, record.message_id)))
    if alert.stories:
        stream = Stream(name, alert.topics, alert.min_score, alert.max_per_run, alert.lookback_hours)
        send_updates = config.settings.clusters.send_updates if alert.send_updates is None else alert.send_updates
        selection = select_stories(db, stream, at, send_updates)
        for item in selection.listed:
            text = story_text(item, entity_names(config))
            _send(db, channel, name, label, text, [_item(item, True)], selection, at)
            outcome.stories += 1
        if selection.omitted:
            text = overflow_text(selection.omitted, alert.topics, alert.max_per_run)
            _send(db, channel, name, label, text, [_item(i, False) for i in selection.omitted], selection, at)
            outcome.stories += len(selection.omitted)
    if alert.spikes:
        cooldown = timedelta(hours=config.settings.spikes.window_hours)
        for topic in alert.topics:
            spike = spikes.get(topic)
            last = db.last_keyed_message(name, key_prefix(topic)) if spike else None
            if spike is None or (last is not None and last > at - cooldown):
                continue  # none, or this burst was already alerted
            lead = spike.stories[0].article if spike.stories else None
            item = LedgerItem(spike.key, lead.article_id if lead else "", topic, spike.verdict.z,
                                     spike.observed, True)
            _send(db, channel, name, label, spike_text(spike), [item], None, at)
            outcome.spikes += 1


def _item(story: StoryItem, listed: bool) -> LedgerItem:
    article = story.article
    return LedgerItem(story.key, article.article_id, article.topic, article.score, story.size, listed)


def _send(
    db: Database, channel: AlertChannel, name: str, label: str, text: AlertText,
    items: list[LedgerItem], selection: Selection | None, at: datetime,
) -> None:
    """Record one message as pending with its items, deliver it, settle its status."""
    message_id = channel.new_message_id(name.replace(":", "-").replace(">", "."))
    raw = channel.encode(text, message_id, at)
    listed = sum(item.listed for item in items)
    info = MessageInfo(
        name, channel.kind, message_id, f"{text.title}: {text.headline}", (channel.name,),
        selection.window_start if selection else None, at, listed, len(items) - listed,
    )
    send_id = db.record_digest_attempt(info, raw, items)
    settle(db, send_id, channel.deliver(raw, message_id), label)
