"""Waiting on a condition, as every test that waits does: poll with a generous deadline, never
sleep a fixed time (a loaded CI machine is slow, an idle one should not wait for nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

DEADLINE = 900.0  # seconds any one awaited condition may take on a loaded machine


def wait_for(condition: Callable[[], object], what: str, deadline: float = DEADLINE, every: float = 0.5) -> object:
    """Poll ``condition`` until it returns something truthy and return that; fail naming ``what``
    after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= end:
            pytest.fail(f"timed out after {deadline:g}s waiting for {what}")
        time.sleep(every)
