"""An SMTP server that keeps every mail it gets, to try hitl's email channel on one machine.

``serve`` runs aiosmtpd (a real SMTP server, no TLS, no AUTH: loopback only), prints each
mail's recipient, subject and answer links, and writes it to ``--dir`` as a ``.eml`` file.

``confirm`` plays the person who opens an answer link of a mail and presses Confirm on the
page it opens: it finds the mail of an interaction in ``--dir``, opens the link of the button
named (GET: the gateway only shows the answer and sets a cookie), then posts the page's form
with that cookie, as a browser does, and prints the page the gateway answers with.

    python mail_sink.py serve --port 8025          # mails kept in /tmp/hitl-mail
    python mail_sink.py confirm ID Approve

Needs `pip install aiosmtpd httpx` (`uv sync` installs both with hitl's dev group).
"""

import argparse
import asyncio
import email
import email.policy
import html
import re
import sys
import tempfile
import urllib.parse
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

FOLDER = Path(tempfile.gettempdir(), "hitl-mail")
LINK = re.compile(r"^\s+(.+?): (https?://\S+/email/links/\S+)$", re.M)


def text_body(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    text = str(part.get_content()) if part is not None else ""
    return text.replace("\r\n", "\n")


class Keep:
    """aiosmtpd's handler: each mail printed and written to the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.count += 1
        (self.folder / f"{self.count:05d}.eml").write_bytes(raw)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {mail['Subject']}")
        for label, url in LINK.findall(text_body(mail)):
            print(f"  {label}: {url}")
        sys.stdout.flush()
        return "250 2.0.0 kept"


async def serve(host: str, port: int, folder: Path) -> None:
    handler = Keep(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="mail-sink"), host, port)
    print(f"SMTP sink on {host}:{port}, mails kept in {folder}", flush=True)
    async with server:
        await server.serve_forever()


def find_link(folder: Path, interaction: str, label: str, to: str | None) -> str | None:
    """The URL of the button ``label`` in the latest mail of ``interaction`` (to ``to``)."""
    for path in sorted(folder.glob("*.eml"), reverse=True):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        if not str(mail["X-Hitl-Interaction"] or "").startswith(interaction):
            continue
        if to is not None and str(mail["To"]).lower() != to.lower():
            continue
        for name, url in LINK.findall(text_body(mail)):
            if name.lower() == label.lower():
                return str(url)
    return None


def shown(page: str) -> list[str]:
    """A gateway page's heading and paragraphs, as text."""
    found = re.findall(r"<(h1|p)>(.*?)</\1>", page, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for _, text in found]


def confirm(folder: Path, interaction: str, label: str, to: str | None) -> int:
    url = find_link(folder, interaction, label, to)
    if url is None:
        print(f"no mail of {interaction} with a {label!r} link in {folder}", file=sys.stderr)
        return 1
    with httpx.Client() as browser:  # keeps the page's cookie, as a browser does
        opened = browser.get(url)
        form = re.search(r'<form method="post" action="([^"]+)">.*?name="confirm" '
                         r'value="([^"]+)"', opened.text, flags=re.S)  # fmt: skip
        if form is None:  # used, expired or settled: the page says who decided and when
            print(opened.status_code, " / ".join(shown(opened.text)))
            return 0
        action = urllib.parse.urljoin(url, html.unescape(form[1]))
        fields: dict[str, Any] = {"confirm": html.unescape(form[2])}
        answered = browser.post(action, data=fields)
    print(answered.status_code, " / ".join(shown(answered.text)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("serve", help="take mails over SMTP, print and keep them")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8025)
    run.add_argument("--dir", type=Path, default=FOLDER, help="where mails are kept")
    press = verbs.add_parser("confirm", help="open a mail's answer link and confirm it")
    press.add_argument("id", help="the interaction id (or its start)")
    press.add_argument("button", help="the link's label, e.g. Approve")
    press.add_argument("--to", help="the recipient's mail, when it went to several")
    press.add_argument("--dir", type=Path, default=FOLDER, help="where the mails are")
    args = parser.parse_args()
    if args.verb == "serve":
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(serve(args.host, args.port, args.dir))
        return 0
    return confirm(args.dir, args.id, args.button, args.to)


if __name__ == "__main__":
    sys.exit(main())
