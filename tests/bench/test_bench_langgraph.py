"""hitl_bench.langgraph_ab: LangGraph's own interrupt and resume against the adapter over hitl,
both sides measured in one run, each line with its throughput, percentiles and CPU."""

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_both_sides_are_measured_in_the_same_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hitl_bench.langgraph_ab", "--interactions", "6",
         "--concurrency", "2", "--rounds", "2"],
        capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    sides = [
        re.match(r"round (\d): (langgraph alone|langgraph over hitl) +6 interactions", line)
        for line in lines
    ]
    assert [(m.group(1), m.group(2)) for m in sides if m] == [
        ("1", "langgraph alone"),
        ("1", "langgraph over hitl"),
        ("2", "langgraph over hitl"),
        ("2", "langgraph alone"),
    ], done.stdout
    assert all("p50" in line and "p99" in line and "cpu" in line for line in lines)
    assert all("+ broker" in line for line in lines if "over hitl" in line)
