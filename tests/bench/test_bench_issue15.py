"""Issue 15's parts of the bench, small: email and Slack delivery through hitl's channels and
through the hand-written senders (aiosmtplib, slack_sdk) to the stand-in processes, and the
time from a decision elsewhere to each channel's update with a real broker and notifier.
``hitl bench --quick`` (tests/bench/test_bench_quick.py) runs them end to end. No figure is
asserted: speed is measured by the bench; this checks every message and update arrives."""

from pathlib import Path

import pytest

from hitl_bench import channel_delivery, channel_updates, channels_run
from tests.servers import AMQP_URL, REDIS_URL


@pytest.mark.parametrize("channel", ["email", "slack"])
async def test_both_senders_deliver_every_message_to_the_standin(channel: str) -> None:
    samples = await channel_delivery.measure(channel, (1, 4), 20, 1, warmup=4)
    baseline = channel_delivery.BASELINES[channel]
    assert sorted((s.sender, s.concurrency) for s in samples) == sorted(
        (sender, c) for sender in ("channel", baseline) for c in (1, 4)
    )
    for s in samples:
        assert s.channel == channel
        assert s.received == s.count == 20, s  # the stand-in counted each one
        assert s.connections >= 1, s
    [table] = channels_run.tables(samples, [])
    assert [row[1] for row in table.rows] == ["channel", baseline, f"channel/{baseline}"] * 2


async def test_a_decision_elsewhere_reaches_each_channel_as_an_update(tmp_path: Path) -> None:
    samples = await channel_updates.measure(
        ("email", "slack"), AMQP_URL, REDIS_URL, tmp_path, {}, count=5, rate=50.0, runs=1,
        warmup=2,
    )  # fmt: skip
    assert [(s.channel, s.count, s.delivered, s.updated) for s in samples] == [
        ("email", 5, 5, 5), ("slack", 5, 5, 5)
    ]  # fmt: skip
    [table] = channels_run.tables([], samples)
    assert [row[:3] for row in table.rows] == [
        ("email", "5 (50/s)", "5"), ("slack", "5 (50/s)", "5")
    ]  # fmt: skip
