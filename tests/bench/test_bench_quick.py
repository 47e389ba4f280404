"""``hitl bench --quick`` runs to the end on the real servers and ends with the ratio line.

Performance is measured by the bench, not asserted here: this only checks that the harness
works (both systems answered every interaction, the tables printed, the ratio is a number,
every event stream got every event).
"""

import os
import re
import subprocess
import sys

import pytest

from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow


# Issue 15's parts start a broker and a notifier per channel (an interpreter importing hitl
# each: seconds on a busy machine), hence the minute over issue 14's 300 s; routing off with
# the routed requests (two more brokers, at 1 and 64 in flight) another minute; issue 17's
# traced broker and LangGraph's (a broker, LangGraph's import, 20 interactions a side) 30 s.
@pytest.mark.timeout(450)
def test_quick_bench_prints_tables_and_a_ratio() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update({"HITL_AMQP_URL": AMQP_URL, "HITL_REDIS_URL": REDIS_URL})
    done = subprocess.run(
        [sys.executable, "-m", "hitl.cli.main", "bench", "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=430,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio_vs_handwritten=\d+\.\d\d", lines[-1]), lines[-1]
    assert sum(line.startswith("ratio_vs_handwritten=") for line in lines) == 1
    assert "End to end" in done.stdout
    for concurrency in ("1", "16", "64", "256"):
        rows = [line.split() for line in lines if line.split()[:1] == [concurrency]]
        assert {row[1] for row in rows} >= {"hitl", "peer", "hitl/peer"}, done.stdout
    assert "Growth" in done.stdout
    footprint = _table(done.stdout, "Redis bytes per interaction")
    assert [row.split()[0] for row in footprint[1:]] == ["hitl"], footprint
    # through a real `hitl gateway`: answers over HTTP beside AMQP at 1 and 64 in flight,
    # 100 event streams at a paced load and flat out, listings at each growth level
    answers = _table(done.stdout, "Answering through the gateway (HTTP) against over AMQP")
    rows = [line.split()[:2] for line in answers[1:]]
    assert rows == [[c, via] for c in ("1", "64") for via in ("amqp", "http", "http/amqp")]
    streams = _table(done.stdout, "Event streams")
    assert [line.split()[:2] for line in streams[1:]] == [["100", "25/s"], ["100", "16"]]
    for row in streams[1:]:
        [(least, most)] = re.findall(r" (\d+)-(\d+) ", row)  # events per stream
        assert least == most != "0", streams  # every stream got every event
    listings = _table(done.stdout, "Listings with N pending")
    assert [line.split()[0] for line in listings[1:]] == ["1,000", "10,000", "10,000"]
    # issue 14: routing through a generated 1,000-route tree, in process and through brokers
    # with it; webhook delivery through the channel and httpx; a hanging webhook receiver
    [decision] = _table(done.stdout, "Routing decision in process")[1:]
    assert decision.split()[0] == "1,000"
    routing = _table(done.stdout, "Routing on (a broker with the generated tree)")
    rows = [re.split(r"\s{2,}", line.strip())[:2] for line in routing[1:]]
    measured = ("plain", "off", "on", "off, 1 receiver", "on, 1 receiver")
    compared = ("on / off", "on, 1 receiver / off, 1 receiver", "off / plain")
    assert rows == [[c, r] for c in ("1", "64") for r in (*measured, *compared)]
    webhooks = _table(done.stdout, "Webhook delivery to a local receiver")
    rows = [line.split()[:2] for line in webhooks[1:]]
    assert rows == [[c, s] for c in ("1", "8", "64") for s in ("channel", "httpx", "channel/httpx")]
    isolation = _table(done.stdout, "Slow-receiver isolation")
    alone, with_slow, ratio = (re.split(r"\s{2,}", line.strip()) for line in isolation[1:])
    # every request to the fast receiver delivered; the same load on the other route in both
    assert alone[:3] == ["beside a responsive receiver", "30 (30/s)", "30"], alone
    # the responsive one got its requests (the phase ends when the fast one has all of its
    # own, so the last few of the other route may still be on their way)
    assert alone[5].startswith("30 / ") and int(alone[5].split(" / ")[1]) >= 20, alone
    assert with_slow[:3] == ["with a hanging receiver", "30 (30/s)", "30"], with_slow
    assert with_slow[5].startswith("30 / ") and with_slow[5] != "30 / 0"  # it hung on some
    assert ratio[0] == "hanging/responsive"
    # issue 15: email and Slack delivery through the channels and by hand, to stand-ins; the
    # time from a decision elsewhere to each channel's update (a real notifier)
    for title, baseline in (("Email delivery", "aiosmtplib"), ("Slack delivery", "slack_sdk")):
        rows = [line.split()[:2] for line in _table(done.stdout, title)[1:]]
        senders = ("channel", baseline, f"channel/{baseline}")
        assert rows == [[c, s] for c in ("1", "8", "64") for s in senders], rows
    updates = _table(done.stdout, "Decided elsewhere -> the channel's update")
    rows = [re.split(r"\s{2,}", line.strip())[:3] for line in updates[1:]]
    assert rows == [["email", "10 (20/s)", "10"], ["slack", "10 (20/s)", "10"]], rows
    # issue 17: a broker sent traced requests against the plain one, interleaved, at 1 and 64
    # in flight; LangGraph's own interrupt and resume against the adapter over hitl
    traced = [re.split(r"\s{2,}", line.strip()) for line in _table(done.stdout, "Trace prop")[1:]]
    assert [row[:2] for row in traced] == [
        [c, r] for c in ("1", "64") for r in ("untraced", "traced", "traced/untraced")
    ], traced
    assert re.fullmatch(r"x\d+\.\d\d", traced[-1][2]), traced  # throughput traced/untraced
    assert re.fullmatch(r"broker CPU x\d+\.\d\d", traced[-1][-1]), traced
    langgraph = _table(done.stdout, "LangGraph approval round trip")
    alone, over, ratio = (re.split(r"\s{2,}", line.strip()) for line in langgraph[1:])
    assert alone[:2] == ["langgraph alone", "20 (4)"], alone
    assert over[:2] == ["langgraph over hitl", "20 (4)"], over
    for row in (alone, over):  # interactions/s, p50 / p99, CPU ms per interaction
        assert re.fullmatch(r"\d+", row[2]) and row[2] != "0", row
        assert re.fullmatch(r"\d+\.\d / \d+\.\d", row[3]), row
        assert re.fullmatch(r"\d+\.\d\d", row[4]) and float(row[4]) > 0, row
    assert ratio[0] == "over hitl/alone" and re.fullmatch(r"x\d+\.\d\d", ratio[1]), ratio


def _table(stdout: str, title: str) -> list[str]:
    """The lines of the table whose title starts with ``title`` (header first): up to a blank
    line or the ratio line."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = at + 1
    while end < len(lines) and lines[end].strip() and not lines[end].startswith("ratio_vs"):
        end += 1
    return lines[at + 1 : end]
