"""Secrets named in sources.yaml: read from an environment variable or a Prefect Secret block."""

from __future__ import annotations

import os

from newswatch.errors import MissingSecret


def resolve_secret(env: str | None, block: str | None, what: str) -> str | None:
    """The value of environment variable ``env`` if set, else of Prefect Secret block ``block``.

    None when neither is named; :class:`MissingSecret` when the named source has no value.
    ``what`` names the secret in messages (e.g. "SMTP password").
    """
    if env and os.environ.get(env):
        return os.environ[env]
    if block:
        from prefect.blocks.system import Secret

        try:
            return Secret.load(block).get()
        except Exception as err:  # not found, API unreachable, HTTP error: all a missing secret here
            raise MissingSecret(f"cannot load Prefect Secret block {block!r}: {type(err).__name__}: {err}") from None
    if env:
        raise MissingSecret(f"{what}: environment variable {env} is not set")
    return None
