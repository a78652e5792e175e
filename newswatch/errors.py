"""Every error newswatch raises on purpose, in one family.

Each class carries the ``exit_code`` the command line ends with and a one-line ``summary``
that it prints before the error's own message (see ``newswatch.cli``). Hierarchy::

    NewswatchError                 1  anything newswatch reports to the operator
    ├── ConfigError                2  sources.yaml is invalid: "file:line: field: problem" lines
    │   ├── QuerySyntaxError       2  a topic query or term that cannot be parsed (also ValueError)
    │   ├── TopicError             2  a topic that cannot be compiled (also ValueError)
    │   └── TopicChangeRefused     2  a changed topic gets analysts' verdicts wrong that its accepted version had right
    ├── StorageError               1  the database cannot be opened or written
    │   └── ClusterParamsError     1  stored story clusters were computed with other settings
    ├── FetchError                 1  a URL could not be fetched within the limits
    │   ├── BlockedAddress         1  a URL or address refused by the SSRF policy
    │   └── TransientFeedError     1  a feed failed in a way worth retrying (carries the fetch)
    ├── DeliveryError              3  a digest or alert could not be delivered
    │   └── MissingSecret          3  a password or channel URL named in sources.yaml cannot be read
    ├── PrefectServerError         6  the local Prefect server could not be started
    ├── SearchError                2  a search query or filter that cannot be searched
    ├── FeedbackError              2  feedback on an unknown topic or article
    ├── WebSetupError              2  ``newswatch web`` must not start as configured (e.g. no credentials off loopback)
    └── SemanticUnavailable        1  semantic matching without the ``semantic`` extra (also RuntimeError)

Fetch errors are handled inside the pipeline (a failed feed or page is recorded, the run goes
on); the others end a command.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newswatch.models import FeedFetch


class NewswatchError(Exception):
    """Base of every newswatch error; ``str(err)`` is meant for the operator."""

    exit_code = 1
    summary = "Error"


class ConfigError(NewswatchError):
    """A configuration file is invalid; ``problems`` are its ``file:line: field: problem`` lines."""

    exit_code = 2
    summary = "Invalid configuration"

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class QuerySyntaxError(ConfigError, ValueError):
    """A query that cannot be parsed; ``line`` and ``column`` are 1-based."""

    summary = "Invalid query"

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__([f"line {line}, column {column}: {message}"])
        self.reason = message
        self.line = line
        self.column = column


class TopicError(ConfigError, ValueError):
    """A topic that cannot be compiled (e.g. it refers to an unknown entity)."""

    summary = "Invalid topic"

    def __init__(self, message: str):
        super().__init__([message])


class TopicChangeRefused(ConfigError):
    """A changed topic gets analysts' verdicts wrong that its accepted version had right (one
    line per topic); ``newswatch topics accept`` lets it take effect."""

    summary = "Topic change not accepted"


class StorageError(NewswatchError):
    """The database cannot be opened or written; the message says what to do."""

    summary = "Storage error"


class ClusterParamsError(StorageError):
    """The database holds signatures computed with other settings than the configured ones."""

    summary = "Story clusters do not fit the settings"


class FetchError(NewswatchError):
    """A URL could not be fetched within the limits; the message says why.

    ``retryable`` is True for failures that may pass on a second try soon (timeouts, refused or
    reset connections, a DNS server that did not answer), False for those that retrying cannot
    fix (a name that does not exist, an invalid TLS certificate, a refused address, a redirect
    loop, an oversized body).
    """

    summary = "Fetch failed"

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class BlockedAddress(FetchError):
    """A URL or address is refused by the SSRF policy; the message says why and how to allow it."""

    summary = "Address refused"


class TransientFeedError(FetchError):
    """A feed failed in a way worth retrying; carries the failed fetch for the record."""

    summary = "Feed failed"

    def __init__(self, result: FeedFetch):
        super().__init__(f"{result.feed_name}: {result.error}", retryable=True)
        self.result = result


class DeliveryError(NewswatchError):
    """A digest could not be delivered; the message says what happened and what comes next."""

    exit_code = 3
    summary = "Delivery failed"


class PrefectServerError(NewswatchError):
    """The local Prefect server (of ``serve``, or a command's temporary one) did not start."""

    exit_code = 6
    summary = "Prefect API unavailable"


class MissingSecret(DeliveryError):
    """A secret named in the configuration (environment variable, Prefect Secret block) cannot be read."""

    summary = "Secret not available"


class SemanticUnavailable(NewswatchError, RuntimeError):
    """A topic asks for semantic matching but the ``semantic`` extra is not installed."""

    summary = "Semantic matching unavailable"


class SearchError(NewswatchError, ValueError):
    """A search query or filter that cannot be searched; the message says why."""

    exit_code = 2
    summary = "Invalid search"


class FeedbackError(NewswatchError, ValueError):
    """Feedback that cannot be recorded (unknown topic, or an id that is no stored article)."""

    exit_code = 2
    summary = "Invalid feedback"


class WebSetupError(NewswatchError):
    """The workspace must not start as configured; the message says what to set."""

    exit_code = 2
    summary = "Not started"
