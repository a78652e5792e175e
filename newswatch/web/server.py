"""Start the workspace with uvicorn, after the safety checks of :mod:`newswatch.web.security`."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from newswatch.config import Config
from newswatch.web.app import create_app
from newswatch.web.security import auth_from_env, check_binding


def serve(config: Config, database: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until stopped; refuse (:class:`~newswatch.errors.WebSetupError`) to listen beyond loopback without credentials."""
    auth = auth_from_env()
    check_binding(host, auth)
    shown = f"[{host}]" if ":" in host else host
    print(f"newswatch web: http://{shown}:{port}/ (database {database}; Ctrl-C stops)", flush=True)
    uvicorn.run(create_app(config, database, auth), host=host, port=port, log_level="warning",
                server_header=False)
