"""Settings: one typed object from the environment, and production's refusal of
development defaults (SECURITY.md: introspection and GraphiQL off in production)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from infra import cli
from infra.settings import DEV_ISSUER, Settings, SettingsError, get_settings

GOOD_SECRET = "s3cr3t-" + "k" * 33
PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql://ledgerline@db.internal:5432/ledgerline",
    "secret_key": GOOD_SECRET,
    "oauth_issuer": "https://auth.example.com/",
}
SETTING_NAMES = ("DATABASE_URL", "GRAPHIQL", "SECRET_KEY", "OAUTH_ISSUER")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No setting leaks in from the shell that runs the tests."""
    names = {name.upper() for name in Settings.model_fields}
    for variable in list(os.environ):
        if variable.upper() in names:
            monkeypatch.delenv(variable)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def production(**changes: Any) -> Settings:
    return Settings(**{**PRODUCTION, **changes})


def refusal(settings: Settings) -> str:
    with pytest.raises(SettingsError) as raised:
        settings.check_production()
    return str(raised.value)


# --- production refuses development defaults ----------------------------------------------


def test_production_with_development_defaults_names_every_wrong_setting() -> None:
    # given
    settings = Settings(environment="production", graphiql=True)
    # when
    message = refusal(settings)
    # then
    for name in SETTING_NAMES:
        assert name in message


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"database_url": None}, "DATABASE_URL", id="database-url-missing"),
        pytest.param({"database_url": ""}, "DATABASE_URL", id="database-url-empty"),
        pytest.param({"graphiql": True}, "GRAPHIQL", id="graphiql-on"),
        pytest.param({"secret_key": None}, "SECRET_KEY", id="secret-key-missing"),
        pytest.param({"secret_key": "short"}, "SECRET_KEY", id="secret-key-short"),
        pytest.param({"secret_key": "k" * 31}, "SECRET_KEY", id="secret-key-31-chars"),
        pytest.param({"oauth_issuer": DEV_ISSUER}, "OAUTH_ISSUER", id="dev-issuer"),
    ],
)
def test_production_refuses_one_wrong_setting_and_names_only_it(
    changes: dict[str, Any], named: str
) -> None:
    # given
    settings = production(**changes)
    # when
    message = refusal(settings)
    # then
    assert named in message
    for other in SETTING_NAMES:
        if other != named:
            assert other not in message


def test_correct_production_configuration_passes() -> None:
    # given
    settings = production()
    # when / then
    settings.check_production()
    assert settings.is_production


def test_secret_key_of_exactly_32_characters_is_accepted_in_production() -> None:
    # given
    settings = production(secret_key="k" * 32)
    # when / then
    settings.check_production()


def test_development_needs_none_of_the_production_settings() -> None:
    # given
    settings = Settings()
    # when / then
    assert settings.environment == "development"
    settings.check_production()


def test_production_never_generates_a_secret_key(tmp_path: Path) -> None:
    # given
    settings = production(secret_key=None, data_dir=tmp_path)
    # when / then
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        settings.resolved_secret_key()
    assert not (tmp_path / "secret_key").exists()


def test_development_generates_a_secret_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    # given
    settings = Settings(data_dir=tmp_path / "data")
    # when
    first = settings.resolved_secret_key()
    second = Settings(data_dir=tmp_path / "data").resolved_secret_key()
    # then
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600


# --- GraphiQL and introspection defaults --------------------------------------------------


def test_graphiql_and_introspection_default_on_in_development() -> None:
    # given
    settings = Settings(environment="development")
    # then
    assert settings.graphiql_enabled
    assert settings.introspection_enabled


def test_graphiql_and_introspection_default_off_in_production() -> None:
    # given
    settings = production()
    # then
    assert not settings.graphiql_enabled
    assert not settings.introspection_enabled


def test_graphiql_and_introspection_follow_explicit_settings() -> None:
    # given
    development = Settings(graphiql=False, introspection=False)
    partner_sandbox = production(introspection=True)
    # then
    assert not development.graphiql_enabled
    assert not development.introspection_enabled
    assert partner_sandbox.introspection_enabled
    assert not partner_sandbox.graphiql_enabled


# --- read from the environment -----------------------------------------------------------


def test_settings_are_read_from_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", PRODUCTION["database_url"])
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("OAUTH_ISSUER", "https://auth.example.com/")
    monkeypatch.setenv("OAUTH_AUDIENCE", "billing-api")
    monkeypatch.setenv("OAUTH_JWKS_URL", "https://auth.example.com/.well-known/jwks.json")
    monkeypatch.setenv("TOKEN_TTL_SECONDS", "900")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTROSPECTION", "true")
    # when
    settings = Settings()
    # then
    assert settings.is_production
    assert settings.database_url == PRODUCTION["database_url"]
    assert settings.secret_key == GOOD_SECRET
    assert settings.oauth_issuer == "https://auth.example.com/"
    assert settings.oauth_audience == "billing-api"
    assert settings.oauth_jwks_url == "https://auth.example.com/.well-known/jwks.json"
    assert settings.token_ttl_seconds == 900
    assert settings.port == 8080
    assert settings.data_dir == tmp_path
    assert settings.introspection_enabled
    assert not settings.graphiql_enabled
    settings.check_production()


def test_graphiql_turned_on_by_environment_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("GRAPHIQL", "true")
    # when
    message = refusal(Settings())
    # then
    assert "GRAPHIQL" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ENVIRONMENT", "staging"),
        ("TOKEN_TTL_SECONDS", "10"),
        ("TOKEN_TTL_SECONDS", "one hour"),
        ("GRAPHIQL", "maybe"),
        ("PORT", "70000"),
    ],
)
def test_invalid_environment_value_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    # given
    monkeypatch.setenv(variable, value)
    # when
    with pytest.raises(ValidationError) as raised:
        Settings()
    # then
    assert variable.lower() in str(raised.value)


# --- the CLI refuses to serve a bad production configuration ------------------------------


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Should the configuration check let `serve` through, fail fast instead of starting a
    database and a server."""
    calls: list[Any] = []

    async def refuse(settings: Any) -> Any:
        calls.append(settings)
        raise RuntimeError("serve went past the configuration check")

    monkeypatch.setattr("infra.database.open_database", refuse)
    return calls


def test_serve_in_production_with_development_defaults_exits_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch, no_database: list[Any]
) -> None:
    # given
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("GRAPHIQL", "true")
    get_settings.cache_clear()
    # when
    result = CliRunner().invoke(cli.app, ["serve"])
    # then
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for name in SETTING_NAMES:
        assert name in result.output
    assert no_database == []


def test_serve_in_production_with_a_short_secret_key_exits_naming_it(
    monkeypatch: pytest.MonkeyPatch, no_database: list[Any]
) -> None:
    # given
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("SECRET_KEY", "too-short")
    get_settings.cache_clear()
    # when
    result = CliRunner().invoke(cli.app, ["serve"])
    # then
    assert result.exit_code != 0
    assert "SECRET_KEY" in result.output
    assert "too-short" not in result.output
    assert no_database == []


def test_serve_with_stripe_and_no_usable_key_exits_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, no_database: list[Any]
) -> None:
    # given Stripe chosen for one account with a publishable key, and by default with none
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("TENANT_PAYMENT_PROVIDERS", '{"shop": "stripe"}')
    monkeypatch.setenv("TENANT_STRIPE_SECRET_KEYS", '{"shop": "pk_live_publishable123"}')
    get_settings.cache_clear()
    # when
    result = CliRunner().invoke(cli.app, ["serve"])
    # then it stops before any database, naming what to set and never a key's value
    assert result.exit_code != 0
    assert "STRIPE_SECRET_KEY" in result.output
    assert "TENANT_STRIPE_SECRET_KEYS['shop']" in result.output
    assert "pk_live_publishable123" not in result.output
    assert no_database == []


def test_stripe_secrets_read_from_the_environment_stay_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_abc123")
    monkeypatch.setenv("TENANT_STRIPE_WEBHOOK_SECRETS", '{"shop": "whsec_def456"}')
    settings = Settings()
    settings.check()
    assert settings.stripe_secret_key_of("shop") == "sk_live_abc123"
    assert settings.stripe_webhook_secret_of("shop") == "whsec_def456"
    assert settings.stripe_webhook_secret_of("sandbox-only") is None  # no STRIPE_WEBHOOK_SECRET
    for shown in (repr(settings), str(settings.model_dump())):
        assert "sk_live_abc123" not in shown and "whsec_def456" not in shown


def test_a_webhook_lease_shorter_than_two_delivery_timeouts_is_refused_naming_it() -> None:
    # a lease that ran out while its worker still waits for an answer would let a second
    # worker send the delivery again
    with pytest.raises(ValueError, match="WEBHOOK_LEASE_SECONDS"):
        Settings(webhook_timeout_seconds=10, webhook_lease_seconds=15)
    accepted = Settings(webhook_timeout_seconds=10, webhook_lease_seconds=20)
    assert accepted.webhook_lease_seconds == 20
