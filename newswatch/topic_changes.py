"""A changed topic is checked against the analysts' verdicts before it takes effect.

A topic's *version* is what decides its matches: its terms, query, ``min_score``, meaning
options and the entities its query names (not its description). The database keeps every
version that was accepted (``topic_versions``). When ``sources.yaml`` holds a version that
differs from the last accepted one, :func:`compare` matches every feedback example (and, for
``topics check``, labelled examples) with both versions and lists the examples that flip, with
the clauses of the new version that held. A flip from right to wrong (a match an analyst
confirmed is lost, or an article an analyst called not relevant is matched again) is a
*regression*. ``ingest`` accepts a changed topic on its own when it has no regression, and
otherwise refuses to re-match the archive with it (:func:`accept_unchanged_verdicts`) until
the operator accepts it (``newswatch topics accept NAME``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newswatch.config import TERMS_REF, Config, Entity, Topic
from newswatch.errors import TopicChangeRefused
from newswatch.models import Feedback, TopicVersion
from newswatch.query import entity_refs, parse_query
from newswatch.topic_eval import Example, TopicTest, Verdict, evaluate, feedback_examples
from storage.db import Database

FIRST = "first version"
NOTHING_LOST = "no verdict lost"
BY_OPERATOR = "accepted by operator"


def version_of(topic: Topic, entities: Mapping[str, Entity], how: str, note: str = "") -> TopicVersion:
    """The topic as it is configured now, as a version to accept."""
    names = sorted({ref.name for ref in entity_refs(parse_query(topic.query))} - {TERMS_REF}) if topic.query else []
    definition = json.dumps({"topic": topic.model_dump(mode="json", exclude={"description"}),
                             "entities": {name: entities[name].model_dump(mode="json") for name in names}},
                            sort_keys=True, ensure_ascii=False)
    fingerprint = hashlib.sha256(definition.encode()).hexdigest()[:16]
    return TopicVersion(topic.name, fingerprint, definition, datetime.now(UTC), how, note)


def _restore(version: TopicVersion) -> tuple[Topic, dict[str, Entity]]:
    data = json.loads(version.definition)
    return (Topic.model_validate(data["topic"]),
            {name: Entity.model_validate(entity) for name, entity in data["entities"].items()})


@dataclass(frozen=True, slots=True)
class Flip:
    """An example the two versions decide differently."""

    before: Verdict
    after: Verdict

    @property
    def regression(self) -> bool:
        """The old version had it right, the new one has it wrong."""
        return not self.before.wrong and self.after.wrong


@dataclass(frozen=True, slots=True)
class TopicChange:
    """A topic as configured now against its last accepted version, on the same examples."""

    current: TopicVersion
    accepted: TopicVersion | None  # None: no version accepted yet
    before: TopicTest | None  # None when there is nothing to compare with
    after: TopicTest

    @property
    def changed(self) -> bool:
        """The configured version is not the accepted one."""
        return self.accepted is None or self.accepted.fingerprint != self.current.fingerprint

    @property
    def flips(self) -> list[Flip]:
        """The examples the versions decide differently."""
        if self.before is None:
            return []
        return [Flip(b, a) for b, a in zip(self.before.verdicts, self.after.verdicts, strict=True)
                if b.matched != a.matched]

    @property
    def regressions(self) -> list[Flip]:
        """Flips from right to wrong."""
        return [flip for flip in self.flips if flip.regression]


def compare(config: Config, topic: Topic, accepted: TopicVersion | None, examples: Sequence[Example]) -> TopicChange:
    """Match ``examples`` with the topic as configured and, when it changed, as last accepted."""
    semantic = config.settings.semantic
    current = version_of(topic, config.entities, BY_OPERATOR)
    after = evaluate(topic, config.entities, examples, semantic)
    before = None
    if accepted is not None and accepted.fingerprint != current.fingerprint:
        before = evaluate(*_restore(accepted), examples, semantic)
    return TopicChange(current, accepted, before, after)


def feedback_of(db: Database, topic: str, queued: Sequence[Feedback] = ()) -> list[Example]:
    """The analysts' verdicts on ``topic`` (stored, and ``queued``) on stored articles, as examples."""
    items = [*queued, *db.feedback(topic)]
    return feedback_examples(items, db.articles_by_id([f.article_id for f in items]))


def describe_refusal(change: TopicChange) -> str:
    """One line: what the change loses, and what the operator can do."""
    lost = sum(1 for flip in change.regressions if flip.after.example.expected)
    alarms = len(change.regressions) - lost
    name = change.current.topic
    accepted = change.accepted.accepted_at.astimezone(UTC) if change.accepted else None
    return (f"topic {name!r} changed since the version accepted {accepted:%Y-%m-%d %H:%M} UTC and gets"
            f" {len(change.regressions)} analysts' verdicts wrong that it had right ({lost} confirmed matches lost,"
            f" {alarms} 'not relevant' articles matched again): see `newswatch topics check '{name}'`, then fix"
            f" the topic or accept the change with `newswatch topics accept '{name}'`")


def accept_unchanged_verdicts(config: Config, db: Database) -> list[TopicVersion]:
    """Before an ingest re-matches the archive: accept every topic that is new or changed without
    a regression on the stored feedback, and return those versions; raise
    :class:`TopicChangeRefused` (accepting nothing) when a changed topic has regressions."""
    accepted = db.topic_versions()
    fresh, refused = [], []
    for topic in config.topics:
        last = accepted.get(topic.name)
        if last is None:
            fresh.append(version_of(topic, config.entities, FIRST))
            continue
        current = version_of(topic, config.entities, NOTHING_LOST)
        if current.fingerprint == last.fingerprint:
            continue
        change = compare(config, topic, last, feedback_of(db, topic.name))
        if change.regressions:
            refused.append(change)
        else:
            fresh.append(current)
    if refused:
        raise TopicChangeRefused([describe_refusal(change) for change in refused])
    db.accept_topic_versions(fresh)
    return fresh
