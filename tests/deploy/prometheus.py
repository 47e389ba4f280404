"""A real Prometheus for the deploy tests: its binaries, a server on loopback, its HTTP API, and
the PromQL the rules and the dashboard hold.

The binaries come from Debian's ``prometheus`` package (prometheus and promtool, 2.42 on
bookworm): no PyPI or npm package ships them. When they are not on PATH, ``binaries()`` installs
the package with apt-get (root on Debian, as the test machines are) and fails with what to do
anywhere else.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "helm/hitl/files/prometheus-rules.yml"
RULE_TESTS = ROOT / "helm/hitl/files/prometheus-rules.test.yml"
DASHBOARD = ROOT / "helm/hitl/files/grafana-dashboard.json"
_APT_TIMEOUT = 540


@dataclass(frozen=True)
class Binaries:
    prometheus: str
    promtool: str


def binaries() -> Binaries:
    """prometheus and promtool from PATH, else from Debian's package, installed now."""
    found = Binaries(shutil.which("prometheus") or "", shutil.which("promtool") or "")
    if found.prometheus and found.promtool:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RuntimeError(
            "prometheus and promtool are not on PATH and cannot be installed here (needs root "
            "and apt-get): install Debian's package (`apt-get install prometheus`) or put both "
            "binaries, 2.42 or later, on PATH"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [
        "apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q",
        "--no-install-recommends", "prometheus",
    ]  # fmt: skip
    deadline = time.monotonic() + _APT_TIMEOUT
    done = _apt(install, env, deadline)
    if done.returncode != 0:  # an empty or old package list: refresh it once, then again
        _apt(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"], env, deadline)
        done = _apt(install, env, deadline)
    found = Binaries(shutil.which("prometheus") or "", shutil.which("promtool") or "")
    if done.returncode != 0:
        raise RuntimeError(f"`apt-get install prometheus` failed:\n{done.stdout[-2000:]}")
    if not (found.prometheus and found.promtool):
        raise RuntimeError(
            "Debian's prometheus package is installed, but prometheus and "
            "promtool are not on PATH (they are in /usr/bin)"
        )
    return found


def _apt(
    cmd: list[str], env: dict[str, str], deadline: float
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        cmd,
        env=env,
        capture_output=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=max(1.0, deadline - time.monotonic()),
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A Prometheus on 127.0.0.1 scraping ``targets`` every second, with hitl's rules loaded,
    in a temporary directory removed when it stops."""

    def __init__(self, binary: str, targets: dict[str, list[str]], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._dir = Path(tempfile.mkdtemp(prefix="hitl-prometheus-"))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]}
                for job, hosts in targets.items()
            ],
        }
        (self._dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = (self._dir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={self._dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited {self._process.returncode}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r,
            ):
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return (self._dir / "prometheus.log").read_text(errors="replace")[-4000:]

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the whole JSON answer, errors (HTTP 400/422) included."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as exc:
            return json.load(exc)

    def query(self, expr: str) -> Any:
        return self.api("query", query=expr)

    def stop(self) -> None:
        try:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        finally:
            self._log.close()
            shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def running(binary: str, targets: dict[str, list[str]]) -> Iterator[Prometheus]:
    server = Prometheus(binary, targets, free_port())
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- the PromQL of the rules and the dashboard ----------------------------------------------

# What Grafana puts in for the dashboard's variables when the test asks Prometheus directly.
VARIABLES = {"job": ".+", "__rate_interval": "15s", "__range": "10m", "__interval": "1s"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
             "unless", "offset", "inf", "nan"}  # fmt: skip


def rule_exprs() -> dict[str, str]:
    """alert name -> expression, for every rule of prometheus-rules.yml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r.get("alert") or r["record"]: r["expr"] for g in groups for r in g["rules"]}


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too, rows left out."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def panel_exprs(board: dict[str, Any]) -> dict[str, list[str]]:
    """Panel title -> its queries, with the dashboard's variables filled in."""
    return {
        p["title"]: [substitute(t["expr"]) for t in p.get("targets", [])] for p in panels(board)
    }


def variable_queries(board: dict[str, Any]) -> list[str]:
    """The queries behind the dashboard's query variables (``label_values(metric, label)``)."""
    out = []
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]
            out.append(query["query"] if isinstance(query, dict) else query)
    return out


def substitute(expr: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in VARIABLES:
            raise KeyError(f"dashboard variable ${name} has no test value: {expr}")
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a lexical reading of PromQL: strings, label
    matchers, ranges and grouping clauses removed, function names and keywords skipped)."""
    label_values = re.fullmatch(r"\s*label_values\(\s*([\w:]+)\s*,\s*\w+\s*\)\s*", expr)
    if label_values:
        return {label_values.group(1)}
    s = re.sub(r'"(?:\\.|[^"\\])*"', " ", expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", s):
        if s[m.end() :].lstrip().startswith("(") or m.group().lower() in _KEYWORDS:
            continue
        names.add(m.group())
    return names
