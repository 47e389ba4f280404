"""Instructions per call of each step of the broker's path that routing touches, for the same
requests with the tree's recipients (routed), without a config (labelled) and for the plain
rig's requests (plain). Under callgrind, with a library of its client requests (see
hitl_bench.broker_path; ``cg_stop_at`` dumps with the step's name) named in CG:

    CG=/tmp/libcgmark.so valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/steps .venv/bin/python bench/results/issue14/routing-steps.py

each step's dump (/tmp/steps.N, in the order of /tmp/routing-steps-labels.json) holds 1000
calls. Without CG it prints wall-clock microseconds (useless on a busy machine)."""

import ctypes
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hitl.adapters.config.routing import load_routing
from hitl.adapters.redis.codec import dump_mutable
from hitl.adapters.redis.filing import Filing
from hitl.adapters.redis.keys import Keys
from hitl.broker.outbound import render
from hitl.core import audit
from hitl.core.decoding import decode_request, decode_response
from hitl.core.machine import answer, open_interaction
from hitl.core.routing.recipients import recipients
from hitl_bench import route_tree
from hitl_bench.broker_path import answer_body, request_body
from hitl_bench.runner import labelled
from hitl_contract.wire import Names, encode_model

CG = ctypes.CDLL(os.environ["CG"]) if os.environ.get("CG") else None
LABELS: list[tuple[str, int]] = []


def bench(label: str, fn: Callable[[Any], object], items: Sequence[Any]) -> None:
    for it in items[:50]:
        fn(it)
    if CG is not None:
        CG.cg_start()
        for it in items:
            fn(it)
        CG.cg_stop_at(label.encode())
        LABELS.append((label, len(items)))
        return
    t = time.perf_counter_ns()
    for it in items:
        fn(it)
    print(f"{label:40s} {(time.perf_counter_ns() - t) / len(items) / 1000:7.2f} us")


def main() -> None:
    tree = route_tree.generate(1000)
    cfg = load_routing(str(tree.write(Path("/tmp/routing-steps.yaml"))))
    fields = labelled(1000, single=True)
    rng = random.Random(1)
    reqs = [decode_request(request_body(i, fields(i), rng), 1 << 20) for i in range(1000)]
    plain = [decode_request(request_body(i, {}, rng), 1 << 20) for i in range(1000)]
    names, filing, now = Names("x"), Filing(Keys("x", 8), 3600), time.time()
    for r in reqs:  # every decision remembered
        recipients(cfg, r, "default", now)
    bench("recipients (remembered)", lambda r: recipients(cfg, r, "default", now), reqs)
    bench("recipients without a config", lambda r: recipients(None, r, "default", now), reqs)
    tos = {id(r): recipients(cfg, r, "default", now) for r in reqs}
    runs = (
        ("routed", [open_interaction(r, now, "default", None, tos[id(r)]) for r in reqs]),
        ("labelled", [open_interaction(r, now, "default") for r in reqs]),
        ("plain", [open_interaction(r, now, "default") for r in plain]),
    )
    bench(
        "open_interaction routed",
        lambda r: open_interaction(r, now, "default", None, tos[id(r)]),
        reqs,
    )
    bench("open_interaction labelled", lambda r: open_interaction(r, now, "default"), reqs)
    bench("open_interaction plain", lambda r: open_interaction(r, now, "default"), plain)
    for lab, trs in runs:
        bench(f"encode request {lab}", lambda t: encode_model(t.state.request), trs)
        bench(f"render {lab}", lambda t: render(t, names, encode_model(t.state.request)), trs)
        bench(f"dump_mutable {lab}", lambda t: dump_mutable(t.state), trs)
        bench(f"audit.encode {lab}", audit.encode, trs)
        bench(f"filing.on_create {lab}", lambda t: filing.on_create(t, 1), trs)
        ans = [decode_response(answer_body(str(t.state.request.id), rng), 1 << 20) for t in trs]
        pairs = list(zip(trs, ans, strict=True))
        bench(f"answer {lab}", lambda p: answer(p[0].state, p[1], now + 1), pairs)
        fin = [answer(t.state, a, now + 1) for t, a in pairs]
        bench(
            f"render final {lab}",
            lambda t: render(t, names, outcome_json=encode_model(t.state.outcome)),
            fin,
        )
        bench(f"filing.on_commit {lab}", lambda t: filing.on_commit(t, now + 1, 1), fin)
        bench(f"dump_mutable final {lab}", lambda t: dump_mutable(t.state), fin)
    if CG is not None:
        Path("/tmp/routing-steps-labels.json").write_text(json.dumps(LABELS))


if __name__ == "__main__":
    main()
