"""deploy/kubernetes/: every manifest parses, the API has its probes, resources, autoscaler
and disruption budget, its container port is the PORT it listens on, the worker and the
migration run their commands, and every variable they are given is a setting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.known_names import REPO, load_all, unknown_names

MANIFESTS = REPO / "deploy" / "kubernetes"
API_LABELS = {"app.kubernetes.io/name": "ledgerline", "app.kubernetes.io/component": "api"}


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            key = (str(doc["kind"]), str(doc["metadata"]["name"]))  # type: ignore[index]
            assert key not in found, f"{key} twice"
            found[key] = doc
    return found


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = _pod(workload)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_all(MANIFESTS / "kustomization.yaml")
    listed = set(kustomization["resources"])  # type: ignore[call-overload]
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_every_part_of_the_deployment_is_there(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert set(objects) == {
        ("ConfigMap", "ledgerline-config"),
        ("Secret", "ledgerline-secrets"),
        ("Secret", "ledgerline-migrate"),
        ("Job", "ledgerline-migrate"),
        ("Deployment", "ledgerline-api"),
        ("Service", "ledgerline-api"),
        ("HorizontalPodAutoscaler", "ledgerline-api"),
        ("PodDisruptionBudget", "ledgerline-api"),
        ("Deployment", "ledgerline-worker"),
    }


def test_api_probes_readiness_and_liveness_on_its_port(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    api = _container(objects[("Deployment", "ledgerline-api")])
    (port,) = api["ports"]
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    # The port the server listens on (PORT) is the one the probes and the Service reach.
    config = objects[("ConfigMap", "ledgerline-config")]["data"]
    assert port["containerPort"] == int(config["PORT"])
    service = objects[("Service", "ledgerline-api")]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    assert service["selector"] == API_LABELS


def test_api_and_worker_have_requests_and_limits(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for name in ("ledgerline-api", "ledgerline-worker"):
        resources = _container(objects[("Deployment", name)])["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert set(resources["limits"]) == {"cpu", "memory"}


def test_api_scales_on_cpu_and_keeps_a_pod_through_disruptions(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployment = objects[("Deployment", "ledgerline-api")]
    assert deployment["spec"]["template"]["metadata"]["labels"] == API_LABELS
    hpa = objects[("HorizontalPodAutoscaler", "ledgerline-api")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "ledgerline-api",
    }
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    pdb = objects[("PodDisruptionBudget", "ledgerline-api")]["spec"]
    assert pdb["selector"]["matchLabels"] == API_LABELS
    assert pdb["minAvailable"] < hpa["minReplicas"]


def test_api_pods_get_time_to_finish_their_requests(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployment = objects[("Deployment", "ledgerline-api")]
    pause = int(_container(deployment)["lifecycle"]["preStop"]["exec"]["command"][1])
    shutdown = int(objects[("ConfigMap", "ledgerline-config")]["data"]["SHUTDOWN_TIMEOUT"])
    assert _pod(deployment)["terminationGracePeriodSeconds"] > pause + shutdown


@pytest.mark.parametrize(
    ("kind", "name", "command"),
    [
        ("Deployment", "ledgerline-api", ["ledgerline", "serve"]),
        ("Deployment", "ledgerline-worker", ["ledgerline", "worker"]),
        ("Job", "ledgerline-migrate", ["ledgerline", "migrate"]),
    ],
)
def test_workloads_run_their_command_as_non_root_from_the_config_and_secrets(
    objects: dict[tuple[str, str], dict[str, Any]], kind: str, name: str, command: list[str]
) -> None:
    workload = objects[(kind, name)]
    container = _container(workload)
    assert container["command"] == command
    assert _pod(workload)["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    sources = [next(iter(source.items())) for source in container["envFrom"]]
    assert sources == [
        ("configMapRef", {"name": "ledgerline-config"}),
        ("secretRef", {"name": "ledgerline-secrets"}),
    ]
    for variable in container.get("env", []):
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref["key"] in objects[("Secret", ref["name"])]["stringData"]


def test_the_migration_logs_in_as_the_owner(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    job = objects[("Job", "ledgerline-migrate")]
    assert _pod(job)["restartPolicy"] == "Never"
    (url,) = _container(job)["env"]
    assert url["name"] == "DATABASE_URL"
    assert url["valueFrom"]["secretKeyRef"]["name"] == "ledgerline-migrate"


def test_every_variable_given_to_a_container_is_a_known_setting(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    names: set[str] = set(objects[("ConfigMap", "ledgerline-config")]["data"])
    for (kind, _), doc in objects.items():
        if kind == "Secret":
            names |= set(doc["stringData"])
        elif kind in {"Deployment", "Job"}:
            names |= {variable["name"] for variable in _container(doc).get("env", [])}
    assert "DATABASE_URL" in names and "SECRET_KEY" in names
    assert unknown_names(names) == []


def test_the_secret_templates_hold_no_secret(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for (kind, _), doc in objects.items():
        if kind == "Secret":
            assert "data" not in doc
            assert all("CHANGE_ME" in value for value in doc["stringData"].values())
