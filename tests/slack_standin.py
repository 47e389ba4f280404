"""A local stand-in for Slack's Web API (``POST /api/<method>`` with a bot token, answering
``{"ok": true, ...}`` as Slack does) that records every call, and Slack's side of
interactivity: payloads shaped like Slack's, signed as Slack signs them (v0)."""

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL_ID = "C0HITLTEST"


@dataclass
class Call:
    method: str
    token: str
    args: dict[str, Any]


@dataclass
class StandIn:
    calls: list[Call] = field(default_factory=list)
    fail_with: tuple[int, dict[str, Any]] | None = None  # (HTTP status, body) for every call
    ts: int = 0

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/{method}")
        async def api(method: str, request: Request) -> Response:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            args = orjson.loads(await request.body() or b"{}")
            self.calls.append(Call(method, token, args))
            if token != TOKEN:
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            if self.fail_with is not None:
                return JSONResponse(self.fail_with[1], status_code=self.fail_with[0])
            if method == "chat.postMessage":
                self.ts += 1
                return JSONResponse({"ok": True, "channel": CHANNEL_ID,
                                     "ts": f"1700000000.{self.ts:06d}"})  # fmt: skip
            return JSONResponse({"ok": True})

        return app


def signed(payload: dict[str, Any], *, secret: str = SIGNING_SECRET,
           at: float | None = None) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    """An interactivity request as Slack sends it: the payload form field, signed v0."""
    body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
    return body, sign(body, secret=secret, at=at)


def sign(body: bytes, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


def block_actions(user: str, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "trigger_id": "1234.5678.trigger",
        "container": {"type": "message", "channel_id": CHANNEL_ID, "message_ts": "1"},
        "channel": {"id": CHANNEL_ID},
        "actions": [{**action, "action_ts": str(time.time())}],
    }


def view_submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {**view, "id": "V1", "state": {"values": values}},
    }
