"""Issue 15's part of a bench run: email and Slack delivery through hitl's channels against
hand-written senders (``channel_delivery``), and the time from a decision elsewhere to each
channel's update with a real broker and notifier (``channel_updates``); their tables.
``hitl bench --no-email`` / ``--no-slack`` leave a channel out."""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hitl_bench import channel_delivery, channel_updates
from hitl_bench.channel_delivery import BASELINES, CHANNEL, EMAIL, SLACK, ChannelSample
from hitl_bench.channel_updates import UpdateSample
from hitl_bench.report import Table, webhooks
from hitl_bench.stats import Spread


@dataclass(frozen=True)
class ChannelOptions:
    channels: tuple[str, ...]  # of EMAIL, SLACK
    concurrency: tuple[int, ...]
    count: int  # notifications per delivery sample
    runs: int
    warmup: int
    update_count: int  # interactions answered per update round
    update_rate: float  # answers a second
    update_runs: int
    update_warmup: int


async def measure(
    opts: ChannelOptions,
    amqp_url: str,
    redis_url: str,
    log_dir: Path,
    broker_env: Mapping[str, str],
    say: Callable[[str], None],
) -> tuple[list[ChannelSample], list[UpdateSample]]:
    deliveries: list[ChannelSample] = []
    updates: list[UpdateSample] = []
    for channel in opts.channels:
        began = time.perf_counter()
        samples = await channel_delivery.measure(
            channel, opts.concurrency, opts.count, opts.runs, warmup=opts.warmup
        )
        deliveries += samples
        for d in samples:
            say(
                f"run {d.run + 1} {channel} via {d.sender:>10} x{d.concurrency:<3} "
                f"{d.throughput:7.0f}/s  sender {d.sender_cpu_ms:.3f} ms CPU a message, "
                f"cpu sender={d.sender_cpu:.0f}% stand-in={d.receiver_cpu:.0f}%  "
                f"{d.received}/{d.count} received"
            )
        say(f"{channel} delivery took {time.perf_counter() - began:.0f}s")
    if opts.channels:
        began = time.perf_counter()
        rounds = await channel_updates.measure(
            opts.channels, amqp_url, redis_url, log_dir, broker_env,
            count=opts.update_count, rate=opts.update_rate, runs=opts.update_runs,
            warmup=opts.update_warmup,
        )  # fmt: skip
        updates += rounds
        for u in rounds:
            say(
                f"run {u.run + 1} {u.channel} decided elsewhere -> updated: {u.updated}/{u.count}, "
                f"p50 {u.latency.p50:.1f} ms p99 {u.latency.p99:.1f} ms (the outcome at the "
                f"producer: p50 {u.outcome.p50:.1f} ms)"
            )
        say(f"updates on decision took {time.perf_counter() - began:.0f}s")
    return deliveries, updates


TITLES = {
    EMAIL: "Email delivery to aiosmtpd (its own process): mails/s, median over runs, "
    "[lowest-highest]; channel/aiosmtplib per run, then the median",
    SLACK: "Slack delivery to a Web API stand-in (its own process, chat.postMessage): "
    "messages/s, median over runs, [lowest-highest]; channel/slack_sdk per run, then the median",
}


def tables(deliveries: Sequence[ChannelSample], updates: Sequence[UpdateSample]) -> list[Table]:
    out = []
    for channel in (EMAIL, SLACK):
        mine = [d for d in deliveries if d.channel == channel]
        if mine:
            out.append(webhooks(mine, TITLES[channel], (CHANNEL, BASELINES[channel])))
    if updates:
        out.append(update_table(updates))
    return out


def update_table(samples: Sequence[UpdateSample]) -> Table:
    table = Table(
        "Decided elsewhere -> the channel's update (Slack: chat.update at the stand-in; email: "
        "the settled mail at aiosmtpd), a real broker and notifier: ms p50 / p95 / p99 (median "
        "over runs, [range of p50]); beside it, the same answers' outcomes at the producer",
        ("channel", "answers (rate)", "updated", "latency p50 / p95 / p99", "p99 [range]",
         "outcome at the producer p50 / p99", "CPU% notifier/broker"),
    )  # fmt: skip
    for channel in (EMAIL, SLACK):
        group = [u for u in samples if u.channel == channel]
        if not group:
            continue
        table.rows.append((
            channel,
            f"{group[0].count} ({group[0].rate:g}/s)",
            "/".join(str(u.updated) for u in group),
            f"{Spread.of([u.latency.p50 for u in group]).show()} / "
            f"{Spread.of([u.latency.p95 for u in group]).median:.1f} / "
            f"{Spread.of([u.latency.p99 for u in group]).median:.1f}",
            Spread.of([u.latency.p99 for u in group]).show(),
            f"{Spread.of([u.outcome.p50 for u in group]).median:.1f} / "
            f"{Spread.of([u.outcome.p99 for u in group]).median:.1f}",
            f"{Spread.of([u.notifier_cpu for u in group]).median:.0f}/"
            f"{Spread.of([u.broker_cpu for u in group]).median:.0f}",
        ))  # fmt: skip
    return table
