"""A webhook receiver for hitl, as a team's bot would be: it prints each request hitl sends it
(signed per Standard Webhooks: the signature is checked first) and sends a person's answer back
to the gateway, signed with the same secret.

    HITL_BOT_SECRET=whsec_... python webhook_bot.py serve --port 8090
    HITL_BOT_SECRET=whsec_... python webhook_bot.py answer ID approve --as dana@example.com

Needs `pip install standardwebhooks httpx`. The secret is the receiver's `secret` in the
routing file (docs/routing.md); the gateway checks answers against it.
"""

import argparse
import datetime
import http.server
import json
import os
import sys
import uuid

import httpx
from standardwebhooks import Webhook, WebhookVerificationError


def secret() -> str:
    return os.environ["HITL_BOT_SECRET"]


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            event = Webhook(secret()).verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(401)
            self.end_headers()
            return
        if event["type"] == "interaction.requested":
            request = event["notification"]["request"]
            actions = {"approval": "approve, reject"}.get(request["kind"], "see its kind")
            print(f"requested {event['interaction_id']}: {request['prompt']} ({actions})")
        else:
            outcome = event["outcome"]
            decided = outcome["decided_by"]
            who = (decided.get("identity") or {}).get("id", decided["type"])
            what = f"{outcome['status']} {outcome['action']}"
            print(f"settled {event['interaction_id']}: {what} by {who}")
        sys.stdout.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def answer(gateway: str, receiver: str, interaction_id: str, action: str, person: str,
           data: dict[str, object]) -> httpx.Response:  # fmt: skip
    body = json.dumps({
        "type": "interaction.answer", "interaction_id": interaction_id, "action": action,
        "data": data, "responder": {"id": person}, "response_id": str(uuid.uuid4()),
    })  # fmt: skip
    message_id = f"answer_{uuid.uuid4().hex}"
    now = datetime.datetime.now(datetime.UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret()).sign(message_id, now, body),
    }
    return httpx.post(f"{gateway}/v1/webhooks/{receiver}/answers", content=body, headers=headers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    serve = verbs.add_parser("serve", help="receive hitl's requests and print them")
    serve.add_argument("--port", type=int, default=8090)
    send = verbs.add_parser("answer", help="send a person's answer back, signed")
    send.add_argument("id")
    send.add_argument("action")
    send.add_argument("--data", default="{}", help="JSON object")
    send.add_argument("--as", dest="person", required=True)
    send.add_argument("--receiver", default="team-bot")
    send.add_argument("--gateway", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    if args.verb == "serve":
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        http.server.HTTPServer(("127.0.0.1", args.port), Receiver).serve_forever()
        return 0
    reply = answer(args.gateway, args.receiver, args.id, args.action, args.person,
                   json.loads(args.data))  # fmt: skip
    print(reply.status_code, reply.text)
    return 0 if reply.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
