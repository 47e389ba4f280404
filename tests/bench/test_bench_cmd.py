"""``hitl bench`` without the harness installed says how to install it, on one line."""

import sys
from pathlib import Path

import pytest

from hitl.cli.main import main


def test_bench_without_the_harness_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "hitl_bench" or m.startswith("hitl_bench.")]:
        monkeypatch.delitem(sys.modules, name)
    # as in an install of hitl alone: no entry of the path holds the harness
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not (Path(p) / "hitl_bench").exists()])
    assert main(["bench", "--quick"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert "hitl-bench) is not installed" in line
    assert "uv sync" in line
