"""docker-compose.yml, read as Docker Compose reads it (no Docker engine runs here): the
services of the stack, their commands and start order, and that every variable given to a
Ledgerline service is a setting it reads."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra.settings import Settings
from tests.deploy.known_names import REPO, unknown_names

LEDGERLINE_COMMANDS = {
    "migrate": ["ledgerline", "migrate"],
    "api": ["ledgerline", "serve"],
    "worker": ["ledgerline", "worker"],
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the `<<: *anchor` merges as Compose does.
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def test_the_stack_has_every_service(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "migrate", "api", "worker", "redis", "otel-collector"}


@pytest.mark.parametrize("name", sorted(LEDGERLINE_COMMANDS))
def test_ledgerline_services_run_the_image_with_their_command(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    assert service["build"] == "."
    assert service["command"] == LEDGERLINE_COMMANDS[name]


def test_migration_runs_once_after_postgres_is_healthy(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_wait_for_a_successful_migration(
    services: dict[str, Any], name: str
) -> None:
    assert services[name]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_api_runs_several_workers_behind_a_readiness_healthcheck(
    services: dict[str, Any],
) -> None:
    api = services["api"]
    workers = api["environment"]["WORKERS"]
    assert int(workers.removeprefix("${WORKERS:-").removesuffix("}")) > 1
    assert any("/readyz" in part for part in api["healthcheck"]["test"])
    published = api["ports"][0].split(":")
    assert published[-1] == api["environment"]["PORT"]
    assert api["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_api_gets_longer_to_stop_than_it_lets_requests_finish(services: dict[str, Any]) -> None:
    api = services["api"]
    assert int(api["stop_grace_period"].removesuffix("s")) > int(
        api["environment"]["SHUTDOWN_TIMEOUT"]
    )


def test_the_worker_is_not_judged_by_the_images_http_healthcheck(
    services: dict[str, Any],
) -> None:
    # The Dockerfile's HEALTHCHECK asks /healthz, which only the API serves.
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}


def test_ledgerline_services_point_at_redis_and_the_collector(services: dict[str, Any]) -> None:
    for name in LEDGERLINE_COMMANDS:
        environment = services[name]["environment"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379")
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["ENVIRONMENT"] == "production"


def test_migration_logs_in_as_the_owner_and_the_rest_as_the_app_role(
    services: dict[str, Any],
) -> None:
    assert "//ledgerline_owner:" in services["migrate"]["environment"]["DATABASE_URL"]
    for name in ("api", "worker"):
        assert "//ledgerline_api:" in services[name]["environment"]["DATABASE_URL"]
    init = (REPO / "deploy/compose/initdb.sh").read_text()
    assert "IN ROLE ledgerline_app" in init
    assert "./deploy/compose/initdb.sh:/docker-entrypoint-initdb.d/" in " ".join(
        services["postgres"]["volumes"]
    )


@pytest.mark.parametrize("name", sorted(LEDGERLINE_COMMANDS))
def test_every_variable_of_a_ledgerline_service_is_a_known_setting(
    services: dict[str, Any], name: str
) -> None:
    assert unknown_names(services[name]["environment"]) == []


def test_the_settings_given_with_their_defaults_are_valid_production_settings(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `${NAME:-default}` as Compose substitutes it with nothing set in the shell.
    for key, value in services["api"]["environment"].items():
        while "${" in value:
            start = value.index("${")
            end = value.index("}", start)
            value = value[:start] + value[start:end].split(":-", 1)[1] + value[end + 1 :]
        monkeypatch.setenv(key, value)
    settings = Settings()
    settings.check_production()
    assert settings.workers > 1


def test_the_collector_gets_its_config_file_which_receives_otlp(
    services: dict[str, Any],
) -> None:
    collector = services["otel-collector"]
    mount = next(v for v in collector["volumes"] if v.startswith("./deploy/compose/"))
    source, target = mount.split(":")[:2]
    assert f"--config={target}" in collector["command"]
    config = yaml.safe_load((REPO / source).read_text())
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
