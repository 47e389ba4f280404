"""Issue 14's figures that need no RabbitMQ: the routing decision in process and webhook
delivery (channel vs httpx), through the harness's own functions and tables."""

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from hitl_bench import report, route_tree, webhook_delivery
from hitl_bench.runner import machine


async def main() -> None:
    print(machine(), file=sys.stderr)
    cost = route_tree.decision_cost(
        route_tree.generate(1000), Path(tempfile.mkdtemp()) / "routing.yaml", 2000
    )
    print(report.routing_decision([cost]).markdown() + "\n")
    samples = await webhook_delivery.measure((1, 8, 64), 2000, 3)
    print(report.webhooks(samples).markdown())
    Path("offline.json").write_text(  # noqa: ASYNC240 - once, after the measurements
        json.dumps(
            {
                "machine": machine(),
                "routing": cost.as_dict(),
                "webhooks": [s.as_dict() for s in samples],
            },
            indent=1,
        )
    )
    print(machine(), file=sys.stderr)


asyncio.run(main())
