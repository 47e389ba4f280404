"""``hitl bench --scale`` (issue 16) end to end with tiny counts: a three-node RabbitMQ cluster
and a Redis Cluster started for the run, one and two brokers driven against them, the table and
the JSON figures, and nothing of the clusters left running after.

Booting three RabbitMQ nodes and six Redis nodes beside everyone's tests is heavy (the test
takes 35-45 s on this machine when it is quiet), so plain ``pytest`` skips this module, as it
does the RabbitMQ cluster's fault test; ``pytest tests/bench/test_bench_scale.py`` or ``pytest
-m bench`` runs it. Figures are measured by the bench, not asserted: only that each
group's CPU was counted from the cluster's own processes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hitl_bench.clusters.rabbit_cluster import available, listening
from hitl_bench.scale import RABBIT_FIRST_PORT, REDIS_BASE
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow
OFF = (
    "--no-growth", "--no-brokers", "--no-footprint", "--no-gateway", "--no-routing",
    "--no-webhooks", "--no-isolation", "--no-email", "--no-slack", "--no-trace", "--no-langgraph",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _only_when_asked(request: pytest.FixtureRequest) -> None:
    named = any(Path(__file__).name in str(arg) for arg in request.config.args)
    marks = str(request.config.getoption("markexpr") or "")
    if not (named or ("bench" in marks and "not bench" not in marks)):
        pytest.skip(
            "boots a RabbitMQ cluster and a Redis Cluster: "
            "pytest tests/bench/test_bench_scale.py (or -m bench) runs it"
        )
    why = available()
    if why:
        pytest.skip(why)


@pytest.mark.timeout(420)
def test_scale_line_runs_one_and_two_brokers_on_the_clusters(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update({"HITL_AMQP_URL": AMQP_URL, "HITL_REDIS_URL": REDIS_URL})
    figures = tmp_path / "bench.json"
    command = [
        sys.executable, "-m", "hitl.cli.main", "bench", "--quick", *OFF,
        "--concurrency", "1", "--serial-count", "5",
        "--scale", "--scale-count", "40", "--scale-concurrency", "8", "--scale-runs", "1",
        "--json", str(figures), "--log-dir", str(tmp_path / "logs"),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Scale: "))
    title, _, *rows = lines[start : start + 5]
    assert "3-node RabbitMQ cluster" in title and "a Redis Cluster (3 primaries" in title, title
    assert [row.split()[0] for row in rows] == ["1", "2", "2/1"], lines[start : start + 5]

    scale = json.loads(figures.read_text())["scale"]
    samples = scale["samples"]
    assert sorted(s["brokers"] for s in samples) == [1, 2]
    for sample in samples:
        assert sample["count"] == 40 and sample["concurrency"] == 8
        assert sample["system"] == "scale"
        # every group's CPU counted, from processes that exist only for this run
        for group in ("service", "rabbitmq", "redis", "bench"):
            assert sample["cpu"][group] > 0, (group, sample)
        nodes = {group for group in sample["cpu"] if "/" in group}
        assert nodes == {"rabbitmq/a", "rabbitmq/b", "rabbitmq/c"} | {
            f"redis/{REDIS_BASE + i}" for i in range(1, 7)
        }
    # the clusters were stopped
    ports = [RABBIT_FIRST_PORT + i for i in range(3)] + [REDIS_BASE + i for i in range(1, 7)]
    assert not [port for port in ports if listening(port)]
