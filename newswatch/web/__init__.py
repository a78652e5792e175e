"""``newswatch web``: the analyst's workspace, a small local web app (Starlette + uvicorn)."""
