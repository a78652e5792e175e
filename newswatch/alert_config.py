"""The ``channels:`` and ``alerts:`` sections of sources.yaml, and ``settings.feeds_out`` / ``settings.spikes``.

A channel is where messages go: an Apprise URL (Telegram, Slack, Matrix, Discord, Teams,
webhooks, ...) read from an environment variable or a Prefect Secret block, or e-mail
recipients reached through ``settings.mail``. Channel URLs carry tokens, so a literal ``url:``
is refused: sources.yaml is meant to be committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits, _)")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


class Channel(_Strict):
    """Where alerts go: exactly one of ``url_env``, ``url_block`` (an Apprise URL) or ``email``."""

    name: str = Field(pattern=_NAME, description="letters, digits, - _ .")
    url_env: EnvName | None = Field(None, description="environment variable holding the Apprise URL")
    url_block: str | None = Field(None, min_length=1, description="Prefect Secret block holding the Apprise URL")
    email: tuple[str, ...] | None = Field(None, description="recipients, sent through settings.mail")

    url: Any = Field(None, description="refused: a literal URL would put its credentials in the file")
    urls: Any = Field(None, description="refused, as url")

    @field_validator("url", "urls", mode="before")
    @classmethod
    def _no_literal_url(cls, value: Any) -> None:
        if value is not None:
            raise PydanticCustomError(
                "literal_secret",
                "do not write channel URLs in sources.yaml (Apprise URLs carry credentials); name an"
                " environment variable (url_env) or a Prefect Secret block (url_block)",
            )

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        from newswatch.config import _email_address

        if value is not None:
            if not value:
                raise ValueError("the list is empty")
            return tuple(_email_address(address) for address in value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Channel:
        if sum(value is not None for value in (self.url_env, self.url_block, self.email)) != 1:
            raise ValueError("give exactly one of url_env, url_block or email")
        return self


class Alert(_Strict):
    """An immediate subscription: each new story of its topics goes to its channels after the
    ingest that found it; with ``spikes``, unusual volume of those topics does too."""

    name: str = Field(pattern=_NAME, description="letters, digits, - _ .")
    topics: tuple[str, ...]
    channels: tuple[str, ...]
    min_score: float = Field(0.0, ge=0, description="minimum relevance score of a story")
    send_updates: bool | None = Field(
        None, description="alert again when more outlets report a story (default: settings.clusters.send_updates)"
    )
    max_per_run: int = Field(10, ge=1, description="story messages per channel and run; the rest in one summary")
    lookback_hours: float = Field(
        24.0, gt=0, description="articles found this long before the last alert still qualify"
    )
    stories: bool = Field(True, description="send a message per new story")
    spikes: bool = Field(False, description="send spike alerts for these topics")

    @field_validator("topics", "channels")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the list is empty")
        return value

    @model_validator(mode="after")
    def _sends_something(self) -> Alert:
        if not (self.stories or self.spikes):
            raise ValueError("stories and spikes are both false: the alert would send nothing")
        return self


class FeedsOutSettings(_Strict):
    """Atom feeds written after each run: one per topic and one per digest."""

    enabled: bool = True
    dir: Path = Field(Path("feeds"), description="folder the .xml files are written into")
    max_entries: int = Field(50, ge=1, description="stories per feed")
    base_url: str | None = Field(
        None, pattern=r"^https?://\S+/$", description="URL the folder is served at (for rel=self links), ending in /"
    )
    tag_authority: str = Field(
        "newswatch.invalid,2025", pattern=r"^[A-Za-z0-9.@-]+,\d{4}(-\d{2}(-\d{2})?)?$",
        description="authority and date of the tag: URIs that identify feeds and stories (RFC 4151)",
    )


class SpikeSettings(_Strict):
    """How a topic's volume is judged unusual (see README, Spike alerts)."""

    window_hours: int = Field(6, ge=1, le=168, description="stories counted over this many hours up to now")
    weeks: int = Field(8, ge=1, le=52, description="previous weeks whose same hours make the baseline")
    min_weeks: int = Field(3, ge=1, description="weeks of history needed before any spike alert")
    threshold: float = Field(4.0, gt=0, description="robust z-score above the seasonal median that counts")
    min_stories: int = Field(5, ge=1, description="fewer stories than this in the window never count")
    examples: int = Field(5, ge=1, description="stories named in a spike alert")

    @model_validator(mode="after")
    def _enough_weeks(self) -> SpikeSettings:
        if self.min_weeks > self.weeks:
            raise ValueError("min_weeks is larger than weeks")
        return self


Problem = tuple[tuple[Any, ...], str, str]  # (location in the file, kind, message)


def alert_problems(
    topics: Sequence[Any], channels: Sequence[Channel], alerts: Sequence[Alert], has_mail: bool
) -> list[Problem]:
    """Cross-checks of ``channels:`` and ``alerts:``: unique names, known topics and channels,
    ``settings.mail`` for e-mail channels."""
    problems: list[Problem] = []
    for section, items in (("channels", channels), ("alerts", alerts)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name.casefold() in seen:
                problems.append(((section, i, "name"), "duplicate_name", f"duplicate name {item.name!r}"))
            seen.add(item.name.casefold())
    known_topics = {topic.name for topic in topics}
    known_channels = {channel.name for channel in channels}
    for i, alert in enumerate(alerts):
        for field, known in (("topics", known_topics), ("channels", known_channels)):
            for j, name in enumerate(getattr(alert, field)):
                if name not in known:
                    listed = ", ".join(sorted(known)) or "none"
                    problems.append(((("alerts", i, field, j)), f"unknown_{field[:-1]}",
                                     f"unknown {field[:-1]} {name!r} (known: {listed})"))
    if not has_mail:
        for i, channel in enumerate(channels):
            if channel.email is not None:
                problems.append((("channels", i, "email"), "missing_mail",
                                 "e-mail channels need a settings.mail section (sender, transport)"))
    return problems
