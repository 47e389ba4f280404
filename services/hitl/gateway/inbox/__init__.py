"""The web inbox, served by the gateway under ``/inbox/``: people sign in with an API key, see
what waits for them, answer each kind through a form of its own, and see what became of it.

Server-rendered Jinja2 templates and static files shipped in this package (no build step, no
third-party script); live updates over server-sent events from the gateway's event hub. It
uses the gateway's own code paths: the read port for what it shows, ``answers.submit`` for what
a person answers (so the broker checks and decides), and the API key store for who is signed
in. See docs/inbox.md.
"""

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from hitl.gateway.inbox import live, pages, signin
from hitl.gateway.inbox.common import STATIC, router

PREFIX = "/inbox/"
_MODULES = (live, pages, signin)  # their routes are on ``router``


def install(app: FastAPI) -> None:
    """Serve the inbox from ``app``."""
    app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=Path(__file__).parent / "static"), name="inbox-static")
