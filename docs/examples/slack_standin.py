"""A stand-in for Slack on this machine, to try hitl's Slack channel without a workspace.

``serve`` answers Slack's Web API as Slack does (``POST /api/<method>`` with the bot token:
chat.postMessage, chat.update, chat.postEphemeral, views.open) and prints each call; ``GET /``
shows the channel's messages with their Block Kit rendered as a simple page, and
``GET /messages.json`` the messages, edits and ephemeral replies it was sent. Point a Slack
receiver's ``api_url`` at ``http://127.0.0.1:8091/api/``.

``click`` plays a person clicking a button of a message: it finds the message of an
interaction on the stand-in, signs an interaction payload shaped like Slack's with the app's
signing secret (v0, as Slack signs), posts it to the gateway's ``/slack/interactivity``, and
prints what the person is told.

    HITL_SLACK_BOT_TOKEN=xoxb-... python slack_standin.py serve --port 8091
    HITL_SLACK_SIGNING_SECRET=... python slack_standin.py click ID Approve --as U0ANA

Needs `pip install slack_sdk httpx` (both come with hitl).
"""

import argparse
import html
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from typing import Any

import httpx
from slack_sdk.signature import SignatureVerifier

Message = dict[str, Any]


class Workspace:
    """What the stand-in was sent, in order; one lock: the server answers in threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []  # as last posted or updated
        self.ephemerals: list[Message] = []
        self.views: list[Message] = []
        self.seq = 0

    def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if method == "chat.postMessage":
                self.seq += 1
                channel = _channel_id(str(args.get("channel", "")))
                ts = f"{int(time.time())}.{self.seq:06d}"
                message = {"channel": channel, "name": args.get("channel"), "ts": ts,
                           "text": args.get("text", ""), "blocks": args.get("blocks", []),
                           "edited": False}  # fmt: skip
                self.messages.append(message)
                _say(f"posted {ts} in {args.get('channel')}: {message['text']}"
                     + "".join(f" [{b}]" for b in buttons(message)))  # fmt: skip
                return {"ok": True, "channel": channel, "ts": ts, "message": message}
            if method == "chat.update":
                for message in self.messages:
                    if (message["channel"], message["ts"]) == (args.get("channel"), args.get("ts")):
                        message.update(text=args.get("text", ""), blocks=args.get("blocks", []),
                                       edited=True)  # fmt: skip
                        _say(f"updated {message['ts']}: {message['text']}")
                        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}
                return {"ok": False, "error": "message_not_found"}
            if method == "chat.postEphemeral":
                self.ephemerals.append({"user": args.get("user"), "text": args.get("text", ""),
                                        "at": time.time()})  # fmt: skip
                _say(f"to {args.get('user')} only: {args.get('text', '')}")
                return {"ok": True, "message_ts": f"{int(time.time())}.000000"}
            if method == "views.open":
                self.views.append(args.get("view", {}))
                title = (args.get("view", {}).get("title") or {}).get("text", "")
                _say(f"modal opened: {title}")
                return {"ok": True, "view": {"id": f"V{len(self.views):06d}"}}
            return {"ok": True}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:  # a copy: the server's threads go on changing the lists
            copied: dict[str, Any] = json.loads(
                json.dumps({"messages": self.messages, "ephemerals": self.ephemerals})
            )
        return copied


def _channel_id(channel: str) -> str:
    """Slack answers with the channel's id (C...), whatever the request named it by."""
    if re.fullmatch(r"[CGD][A-Z0-9]{8,}", channel):
        return channel
    return "C" + "".join(c for c in channel.upper() if c.isalnum()).ljust(8, "0")[:10]


def buttons(message: Message) -> list[str]:
    return [e["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "actions"
            for e in b.get("elements", []) if e.get("type") == "button"]  # fmt: skip


def _say(line: str) -> None:
    print(line, flush=True)


# --- the page: Block Kit as HTML --------------------------------------------------------------

_STYLE = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0; background: #fff; color: #1d1c1d; }
header { background: #3f0e40; color: #fff; padding: 10px 20px; font-weight: 700; }
main { max-width: 760px; padding: 8px 20px 24px; }
.msg { display: flex; gap: 10px; padding: 12px 0; border-bottom: 1px solid #eee; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #2eb67d; color: #fff;
          font-weight: 700; display: flex; align-items: center; justify-content: center; }
.who b { margin-right: 6px; } .app { font-size: 10px; background: #e8e8e8; padding: 1px 4px;
  border-radius: 3px; color: #616061; margin-right: 6px; } .time, .edited { color: #616061;
  font-size: 12px; }
.section { margin: 4px 0; } pre { background: #f8f8f8; border: 1px solid #ddd; padding: 8px;
  border-radius: 4px; white-space: pre-wrap; margin: 4px 0; font-size: 13px; }
code { background: #f4f4f4; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px;
  color: #e01e5a; font-size: 12px; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin: 8px 0; }
.btn { border: 1px solid #bbb; border-radius: 4px; padding: 4px 12px; font-weight: 700;
       background: #fff; color: #1d1c1d; font-size: 14px; }
.btn.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.btn.danger { background: #fff; border-color: #e01e5a; color: #e01e5a; }
.context { color: #616061; font-size: 12px; margin-top: 4px; }
.ok { color: #fff; background: #2eb67d; border-radius: 3px; padding: 0 3px; font-weight: 700; }
"""


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn (as hitl writes it) as HTML: its text escaped again, then code blocks,
    inline code, bold, italic and line breaks."""
    safe = html.escape(html.unescape(text), quote=False)
    parts = re.split(r"```(.*?)```", safe, flags=re.S)
    out = []
    for n, part in enumerate(parts):
        if n % 2:
            out.append(f"<pre>{part}</pre>")
            continue
        part = re.sub(r"`([^`]+)`", r"<code>\1</code>", part)
        part = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", part)
        part = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", part)
        part = part.replace(":white_check_mark:", '<span class="ok">\u2713</span>')
        out.append(part.strip("\n").replace("\n", "<br>"))
    return "".join(out)


def _block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "section":
        return f'<div class="section">{mrkdwn((block.get("text") or {}).get("text", ""))}</div>'
    if kind == "actions":
        shown = []
        for e in block.get("elements", []):
            label = html.escape((e.get("text") or {}).get("text", ""))
            shown.append(f'<span class="btn {html.escape(e.get("style", ""))}">{label}</span>')
        return f'<div class="actions">{"".join(shown)}</div>'
    if kind == "context":
        texts = " ".join(mrkdwn(e.get("text", "")) for e in block.get("elements", []))
        return f'<div class="context">{texts}</div>'
    return ""


def page(snapshot: dict[str, Any]) -> str:
    """The messages as a channel shows them, oldest first, named as the first one was."""
    names = [m["name"] for m in snapshot["messages"] if m.get("name")]
    channel = str(names[0] if names else "#general").lstrip("#")
    rows = []
    for m in snapshot["messages"]:
        at = time.strftime("%H:%M", time.localtime(float(m["ts"])))
        edited = ' <span class="edited">(edited)</span>' if m["edited"] else ""
        body = "".join(_block(b) for b in m["blocks"]) or html.escape(m["text"])
        rows.append(
            '<div class="msg"><div class="avatar">h</div><div>'
            f'<div class="who"><b>hitl</b><span class="app">APP</span>'
            f'<span class="time">{at}</span>{edited}</div>{body}</div></div>'
        )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>#{channel}</title>'
        f"<style>{_STYLE}</style></head><body><header># {html.escape(channel)}</header>"
        f"<main>{''.join(rows) or '<p>No messages yet.</p>'}</main></body></html>"
    )


class Api(http.server.BaseHTTPRequestHandler):
    workspace: Workspace
    token: str | None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        method = self.path.rsplit("/", 1)[-1]
        given = self.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.path.startswith("/api/"):
            self._send(404, b"{}")
            return
        if self.token is not None and given != self.token:
            answer: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        else:
            answer = self.workspace.call(method, _arguments(self.headers, body))
        self._send(200, json.dumps(answer).encode())

    def do_GET(self) -> None:
        snapshot = self.workspace.snapshot()
        if self.path == "/messages.json":
            self._send(200, json.dumps(snapshot).encode())
        else:
            self._send(200, page(snapshot).encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _arguments(headers: Any, body: bytes) -> dict[str, Any]:
    """A Web API call's arguments: a JSON body, or a form (with JSON-encoded blocks)."""
    args: dict[str, Any]
    if headers.get("content-type", "").startswith("application/json"):
        args = json.loads(body or b"{}")
        return args
    args = dict(urllib.parse.parse_qsl(body.decode()))
    for name in ("blocks", "view"):
        if isinstance(args.get(name), str):
            args[name] = json.loads(args[name])
    return args


def serve(host: str, port: int) -> None:
    Api.workspace = Workspace()
    Api.token = os.environ.get("HITL_SLACK_BOT_TOKEN") or None  # unset or empty: any token
    server = http.server.ThreadingHTTPServer((host, port), Api)
    _say(f"Slack stand-in on http://{host}:{server.server_port}/api/")
    server.serve_forever()


# --- click: a person's click, signed as Slack signs it ----------------------------------------


def click(standin: str, gateway: str, interaction: str, label: str, user: str) -> int:
    messages = httpx.get(f"{standin}/messages.json").json()["messages"]
    for message in reversed(messages):
        for block in message["blocks"]:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                value = json.loads(element.get("value") or "{}")
                if (str(value.get("i", "")).startswith(interaction)
                        and element["text"]["text"].lower() == label.lower()):  # fmt: skip
                    return _post(standin, gateway, message, block, element, user)
    print(f"no message of {interaction} with a button {label!r} on {standin}", file=sys.stderr)
    return 1


def _post(standin: str, gateway: str, message: Message, block: dict[str, Any],
          element: dict[str, Any], user: str) -> int:  # fmt: skip
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "api_app_id": "A0HITLSTANDIN",
        "trigger_id": f"{time.time():.0f}.standin.trigger",
        "container": {"type": "message", "message_ts": message["ts"],
                      "channel_id": message["channel"]},
        "channel": {"id": message["channel"]},
        "message": {"ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        "actions": [{**element, "block_id": block.get("block_id", ""),
                     "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    verifier = SignatureVerifier(os.environ["HITL_SLACK_SIGNING_SECRET"])
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": verifier.generate_signature(timestamp=stamp, body=body) or "",
    }
    told_before = len(httpx.get(f"{standin}/messages.json").json()["ephemerals"])
    reply = httpx.post(f"{gateway}/slack/interactivity", content=body, headers=headers)
    if not reply.is_success:
        print(reply.status_code, reply.text)
        return 1
    print(reply.status_code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # what the gateway tells the person, only them
        told = httpx.get(f"{standin}/messages.json").json()["ephemerals"][told_before:]
        mine = [t for t in told if t["user"] == user]
        if mine:
            print(f"{user} sees: {mine[0]['text']}")
            return 0
        time.sleep(0.1)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("serve", help="answer Slack's Web API and print each call")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8091)
    press = verbs.add_parser("click", help="click a button of an interaction's message")
    press.add_argument("id", help="the interaction id (or its start)")
    press.add_argument("button", help="the button's text, e.g. Approve")
    press.add_argument("--as", dest="user", required=True, help="the Slack user id, U...")
    press.add_argument("--standin", default="http://127.0.0.1:8091")
    press.add_argument("--gateway", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    if args.verb == "serve":
        serve(args.host, args.port)
        return 0
    return click(args.standin, args.gateway, args.id, args.button, args.user)


if __name__ == "__main__":
    sys.exit(main())
