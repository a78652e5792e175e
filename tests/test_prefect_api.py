"""The temporary Prefect API of a command (flows/prefect_api.py): what its start skips once it
has run with the same home, and that nothing it skips is missed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows.prefect_api import BLOCKS_FILE, LocalServer, free_port

SKIPPED = {"PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false", "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}


def _skips_registration(server: LocalServer) -> bool:
    env = server.environment()
    return all(env.get(key) == value for key, value in SKIPPED.items())


def test_block_registration_is_skipped_only_after_a_start_of_the_same_prefect_version(tmp_path):
    import prefect

    temporary, serving = LocalServer(tmp_path, scheduler=False), LocalServer(tmp_path)
    assert not _skips_registration(temporary)  # never started with this home
    (tmp_path / BLOCKS_FILE).write_text("2.0.0")
    assert not _skips_registration(temporary)  # registered by another Prefect version: again
    (tmp_path / BLOCKS_FILE).write_text(prefect.__version__)
    assert _skips_registration(temporary)
    assert not _skips_registration(serving)  # `serve`'s server registers (memoized) at every start


@pytest.mark.slow
def test_a_second_temporary_api_skips_block_registration_and_still_serves_secret_blocks(tmp_path):
    first = LocalServer(tmp_path, port=free_port(), scheduler=False)
    first.start()
    first.stop()
    assert (tmp_path / BLOCKS_FILE).exists()
    second = LocalServer(tmp_path, port=free_port(), scheduler=False)
    assert _skips_registration(second)
    second.start()
    try:  # the block types the first start registered are there: a Secret block is saved and read
        script = ("from prefect.client.orchestration import get_client; from prefect.blocks.system import Secret;"
                  " get_client(sync_client=True).read_block_type_by_slug('secret');"  # registered, not created by save
                  " Secret(value='s3cret').save('nw-test', overwrite=True); print(Secret.load('nw-test').get())")
        done = subprocess.run([sys.executable, "-c", script], env={**second.environment(), "PREFECT_API_URL": second.api_url},
                              capture_output=True, text=True, timeout=600)
    finally:
        second.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "s3cret"
