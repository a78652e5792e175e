"""Prefect flows over the plain pipeline functions in :mod:`newswatch.pipeline`."""

from newswatch.prefect_env import configure_prefect

configure_prefect()
