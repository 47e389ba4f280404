"""``hitl bench --baseline-tree DIR`` runs a second broker built from another source tree
beside the current one, and prints the after/before table and Redis bytes per interaction for
both trees.

A copy of this checkout's own tree stands in for the other commit (CI clones may be shallow):
what is checked is that the baseline's broker runs from that folder, in the same runs, and that
the tables come out; no figure is asserted.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hitl.cli.main import main
from tests.bench.test_bench_quick import _table
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


# Appended to the copy's hitl/__init__.py: each process that imports hitl from the copy
# writes its arguments (``broker`` for a broker) to a file beside it.
IMPORTED_FROM_COPY = """
import sys as _sys, pathlib as _pathlib
with (_pathlib.Path(__file__).parents[2] / "imported-by").open("a") as _f:
    _f.write(" ".join(_sys.argv[1:]) + "\\n")
"""


def _tree_copy(to: Path) -> Path:
    for part in ("services", "schemas"):
        shutil.copytree(ROOT / part, to / part, ignore=shutil.ignore_patterns("__pycache__"))
    with (to / "services" / "hitl" / "__init__.py").open("a") as init:
        init.write(IMPORTED_FROM_COPY)
    return to


@pytest.mark.timeout(240)
def test_baseline_tree_is_measured_beside_the_current_one(tmp_path: Path) -> None:
    tree = _tree_copy(tmp_path / "tree")
    logs = tmp_path / "logs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update({"HITL_AMQP_URL": AMQP_URL, "HITL_REDIS_URL": REDIS_URL})
    command = [sys.executable, "-m", "hitl.cli.main", "bench", "--quick", "--no-growth"]
    command += ["--no-brokers", "--no-gateway", "--concurrency", "1,16,64", "--count", "64"]
    command += ["--serial-count", "10", "--baseline-tree", str(tree), "--log-dir", str(logs)]
    command += ["--footprint-pending", "500", "--footprint-count", "64"]
    command += ["--no-routing", "--no-webhooks", "--no-isolation"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=220, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    compared = _table(done.stdout, "Current tree (after) against --baseline-tree (before)")
    rows = [line.split()[:2] for line in compared[1:]]
    assert rows == [[c, t] for c in ("1", "64") for t in ("before", "after", "after/before")]
    footprint = _table(done.stdout, "Redis bytes per interaction")
    assert [row.split()[0] for row in footprint[1:]] == ["before", "after", "after/before"]
    # brokers ran from the copy (the end-to-end one and the footprint's), and so did the
    # footprint's seeding process
    imported_by = (tree / "imported-by").read_text().splitlines()
    assert imported_by.count("broker") == 2, imported_by
    assert any(line.startswith("--redis-url") for line in imported_by), imported_by
    assert done.stdout.strip().splitlines()[-1].startswith("ratio_vs_handwritten=")


def test_a_baseline_tree_without_hitl_is_refused_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--quick", "--baseline-tree", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert "services/hitl/__init__.py" in line
    assert "git archive" in line
