"""The README tour's channels step, run: the documented broker, gateway, Slack and email
notifiers, the Slack stand-in (docs/examples/slack_standin.py) and the SMTP sink
(docs/examples/mail_sink.py, aiosmtpd) as processes with the documented routing file and
variables, on a fresh namespace and free ports; every documented command checked against what
the README shows under it, and the stand-ins printing what the README says they print: the
message and its edit once decided, the mail with its links and the settled mail."""

import re
import shlex
from pathlib import Path

from hitl.settings import Settings
from tests.docs.sessions import Shell, Step, session
from tests.docs.test_gateway_docs import DOC_BASE, _environment
from tests.docs.test_routing_tour import _free_port, services
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SLACK = "uv run python docs/examples/slack_standin.py serve"
MAIL = "uv run python docs/examples/mail_sink.py serve"
KEY = "uv run hitl keys create --identity billing-agent --scope request --scope read"
READY = {  # a documented long-running command -> what it prints once it is ready
    "uv run hitl broker": "broker ready",
    "uv run hitl gateway": "gateway ready",
    "uv run hitl notifier slack": "notifier slack ready",
    "uv run hitl notifier email": "notifier email ready",
    SLACK: "Slack stand-in on",
    MAIL: "SMTP sink on",
}


async def test_the_readme_reaches_slack_and_mail_and_takes_the_answers_there(
    settings: Settings, tmp_path: Path
) -> None:
    exports, *rest = session(README, marker="channels-tour")
    started, (ask_slack, click, ask_mail, confirm, again) = rest[:6], rest[6:]
    assert [s.command.split("  #")[0].strip() for s in started] == list(READY)
    slack_port, smtp_port, gateway_port = _free_port(), _free_port(), _free_port()
    gateway, standin = f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{slack_port}"
    routing = tmp_path / "tour-channels.yaml"
    routing.write_text(
        (ROOT / "examples" / "tour-channels.yaml").read_text()
        .replace("8091", str(slack_port)).replace("port: 8025", f"port: {smtp_port}")
    )  # fmt: skip
    mails = tmp_path / "mail"
    shell = Shell(
        _environment(settings) | {"HITL_GATEWAY_PORT": str(gateway_port), "HITL_METRICS_PORT": "0"},
        {DOC_BASE: gateway,
         "slack_standin.py serve": f"slack_standin.py serve --port {slack_port}",
         "slack_standin.py click": f"slack_standin.py click --standin {standin} --gateway {gateway}",
         "mail_sink.py serve": f"mail_sink.py serve --port {smtp_port} --dir {mails}",
         "mail_sink.py confirm": f"mail_sink.py confirm --dir {mails}"},
    )  # fmt: skip
    assert exports.command.startswith("export ")
    variables = dict(
        v.split("=", 1) for v in shlex.split(exports.command.replace("\\\n", " ")[len("export ") :])
    )
    assert set(variables) == {"HITL_ROUTING_FILE", "HITL_GATEWAY_PUBLIC_URL", "HITL_LINK_SECRET",
                              "HITL_SLACK_BOT_TOKEN", "HITL_SLACK_SIGNING_SECRET"}  # fmt: skip
    shell.env |= variables | {"HITL_ROUTING_FILE": str(routing)}
    shell.env["HITL_GATEWAY_PUBLIC_URL"] = variables["HITL_GATEWAY_PUBLIC_URL"].replace(
        DOC_BASE, gateway
    )
    shell.env["PYTHONPATH"] = ":".join(filter(None, [str(ROOT), shell.env.get("PYTHONPATH")]))
    async with services(shell, started, READY) as running:
        slack, sink = running[SLACK], running[MAIL]
        await shell.run(Step(f"export HITL_KEY=$({KEY})", [], "step 5"))

        first = await _asked(shell, ask_slack, "5c2a...")
        await eventually(lambda: slack.printed("Pay 900 EUR to Globex? [Approve] [Reject]"))
        await eventually(lambda: sink.printed("mail to bo@example.com: [hitl] Pay 900 EUR"))
        await shell.check(click)
        settled = "Settled: approved by ana@example.com via slack:payments-slack at "
        await eventually(lambda: slack.printed("updated ") and slack.printed(settled))
        await eventually(lambda: sink.printed(f"mail to bo@example.com: [hitl] {settled}"))
        assert sink.printed("  Approve: http://") and sink.printed("/email/links/")

        second = await _asked(shell, ask_mail, "9e07...")
        assert second != first
        await eventually(lambda: sink.printed("[hitl] Pay 4000 EUR to Initech?"))
        await shell.check(confirm)
        await shell.check(again)
        await eventually(lambda: slack.printed(
            "Settled: rejected by bo@example.com via email:payments-email at "
        ))  # fmt: skip


async def _asked(shell: Shell, step: Step, placeholder: str) -> str:
    """Run the documented request; later steps then name its id where the README shows
    ``placeholder``."""
    printed = await shell.check(step)
    found = re.search(r'"id":"([0-9a-f-]{36})"', printed)
    assert found is not None, printed
    shell.replace = {**shell.replace, placeholder: found[1]}
    return found[1]
