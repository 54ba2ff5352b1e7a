"""`ledgerline` command line: serve, migrate, seed, worker, bill, clients, token,
export-schema."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import make_url

from infra.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from infra.database import Database

app = typer.Typer(help="Ledgerline: a GraphQL billing API gateway.", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth clients (machine-to-machine credentials).")
app.add_typer(clients_app, name="clients")

T = TypeVar("T")


def _settings() -> Settings:
    settings = get_settings()
    try:
        settings.check()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return settings


def _with_database(work: Callable[[str], Awaitable[T]]) -> T:
    """Runs `work(url)` against the configured database, starting the embedded one if needed.

    In development the database is migrated first, so any command works on a fresh machine.
    """
    from infra.database import open_database
    from infra.migrate import upgrade_async

    settings = _settings()

    async def run() -> T:
        database = await open_database(settings)
        try:
            if not settings.is_production:
                await upgrade_async(database.url)
            return await work(database.url)
        finally:
            database.stop()

    return asyncio.run(run())


async def _issue_token(url: str, settings: Settings, tenant: str, scopes: list[str]) -> str:
    from auth.tokens import TokenIssuer
    from infra.db import create_engine
    from infra.signing_keys import load_or_create

    engine = create_engine(url, pool_size=1)
    try:
        keys = await load_or_create(engine, settings.resolved_secret_key())
    finally:
        await engine.dispose()
    issuer = TokenIssuer(
        keys.current, settings.oauth_issuer, settings.oauth_audience, settings.token_ttl_seconds
    )
    return issuer.issue(client_id="cli", tenant_id=tenant, scopes=scopes).access_token


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic) up to the newest."""
    from infra.migrate import upgrade_async

    def work(url: str) -> Awaitable[None]:
        return upgrade_async(url)

    _with_database(work)
    typer.echo("migrations applied")


@app.command()
def seed() -> None:
    """Create the `demo` account with customers in several currencies and countries."""
    from infra.db import create_engine
    from infra.seed import seed_demo

    async def work(url: str) -> bool:
        engine = create_engine(url, pool_size=1)
        try:
            return await seed_demo(engine)
        finally:
            await engine.dispose()

    seeded = _with_database(work)
    typer.echo("demo data created" if seeded else "demo data already present")


@clients_app.command("create")
def create_client(
    tenant: Annotated[str, typer.Option(help="Account (tenant) id the client acts for.")],
    scopes: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "customers:read".')],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "cli-created client",
) -> None:
    """Create an OAuth client; prints its id and secret (shown once, stored hashed)."""
    from auth.client_secrets import hash_client_secret, new_client_secret
    from auth.scopes import UnknownScope, parse_scopes
    from domain.accounts import InvalidAccountId, check_account_id
    from domain.ids import new_id
    from infra.db import create_engine
    from infra.repositories.accounts import add_client, ensure_account

    try:
        check_account_id(tenant)
        scope_list = parse_scopes(scopes)
    except (InvalidAccountId, UnknownScope) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    client_id, secret = new_id("cli"), new_client_secret()

    async def work(url: str) -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await ensure_account(conn, tenant, tenant)
                await add_client(
                    conn,
                    client_id=client_id,
                    tenant_id=tenant,
                    name=name,
                    secret_hash=hash_client_secret(secret),
                    scopes=scope_list,
                )
        finally:
            await engine.dispose()

    _with_database(work)
    typer.echo(
        json.dumps(
            {
                "client_id": client_id,
                "client_secret": secret,
                "tenant": tenant,
                "scopes": " ".join(scope_list),
            }
        )
    )


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="Account (tenant) id.")] = "demo",
    scopes: Annotated[str | None, typer.Option(help="Space-separated; default all.")] = None,
) -> None:
    """Print a development access token (not available in production)."""
    from auth.scopes import ALL_SCOPES, UnknownScope, parse_scopes
    from domain.accounts import InvalidAccountId, check_account_id

    settings = _settings()
    if settings.is_production:
        typer.echo("error: development tokens are not issued in production", err=True)
        raise typer.Exit(2)
    try:
        check_account_id(tenant)
        scope_list = parse_scopes(scopes) if scopes else list(ALL_SCOPES)
    except (InvalidAccountId, UnknownScope) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def work(url: str) -> str | None:
        from infra.db import create_engine
        from infra.repositories.accounts import account_exists

        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                if not await account_exists(conn, tenant):
                    return None
        finally:
            await engine.dispose()
        return await _issue_token(url, settings, tenant, scope_list)

    issued = _with_database(work)
    if issued is None:
        typer.echo(
            f"error: no account {tenant!r}; `ledgerline seed` creates `demo`, "
            "`ledgerline clients create --tenant ...` creates others",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(issued)


@app.command("export-schema")
def export_schema(
    output: Annotated[Path | None, typer.Option(help="File to write; default stdout.")] = None,
) -> None:
    """Print the GraphQL schema (SDL), as committed in schema.graphql."""
    from schema.schema import schema

    sdl = schema.as_str() + "\n"
    if output is None:
        typer.echo(sdl, nl=False)
    else:
        output.write_text(sdl)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run one round and exit.")] = False,
    interval: Annotated[int, typer.Option(help="Seconds between billing rounds.")] = 60,
) -> None:
    """Background work: bills every subscription whose period has ended, charges invoices
    that collect automatically (with dunning retries), settles payments left pending,
    delivers webhooks (any number of workers share it all), and deletes idempotency records
    older than 24 hours."""
    from datetime import UTC, datetime, timedelta

    from infra.billing_worker import bill_everyone
    from infra.collection_worker import collect_everyone
    from infra.db import create_engine
    from infra.idempotency import delete_expired
    from infra.logging import configure_logging
    from infra.payments import PaymentProviders
    from infra.secret_box import SecretBox
    from infra.webhooks.dispatcher import TENANTS_AT_ONCE, DeliveryConfig, WebhookDispatcher

    settings = _settings()
    configure_logging(settings.log_level, production=settings.is_production)
    grace = timedelta(seconds=settings.invoice_grace_period)
    dunning = settings.dunning_policy()

    async def billing(engine: Any, providers: PaymentProviders, stop: asyncio.Event) -> None:
        while True:
            # SIGTERM sets `stop`: each step ends after its current batch (committed, so
            # its row locks are released) and the worker exits.
            billed = await bill_everyone(engine, datetime.now(UTC), grace=grace, stop=stop)
            typer.echo(
                f"billed {billed.subscriptions} subscription periods: {billed.invoices} invoices"
            )
            collected = await collect_everyone(engine, providers, datetime.now(UTC), dunning, stop)
            typer.echo(
                f"collected {collected.attempts} invoices;"
                f" reconciled {collected.reconciled} payments and refunds"
            )
            removed = await delete_expired(engine)
            typer.echo(f"removed {removed} expired idempotency records")
            if once or stop.is_set():
                return
            try:
                await asyncio.wait_for(stop.wait(), interval)
                return
            except TimeoutError:
                pass

    async def work(url: str) -> None:
        # Billing's connection (a second while a payment's phases and the sandbox
        # processor overlap), and one per tenant the dispatcher serves at once.
        engine = create_engine(url, pool_size=2 + TENANTS_AT_ONCE)
        providers = PaymentProviders(engine, settings)
        dispatcher = WebhookDispatcher(
            engine,
            SecretBox(settings.resolved_secret_key()),
            DeliveryConfig.from_settings(settings),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            if not stop.is_set():
                typer.echo("stopping: claiming nothing more, finishing the work in hand")
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping)
        try:
            if once:
                await billing(engine, providers, stop)
                delivered = await dispatcher.run_round()
                typer.echo(f"made {delivered} webhook delivery attempts")
                return
            # Billing (with collection) and delivery run side by side: a long billing run
            # never holds up webhooks. Either ending (an error) stops the worker.
            tasks = [
                asyncio.create_task(billing(engine, providers, stop)),
                asyncio.create_task(dispatcher.run(stop, settings.webhook_poll_seconds)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            await dispatcher.close()
            await providers.aclose()
            await engine.dispose()

    _with_database(work)


@app.command()
def bill(
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="The instant to bill as of (ISO 8601, e.g. 2026-12-01T00:00:00Z): every "
            "period that ended by then is billed, one after the other.",
        ),
    ],
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Subscriptions billed per transaction."),
    ] = None,
) -> None:
    """One pass of the billing run for a chosen instant (development and tests)."""
    from datetime import UTC, datetime, timedelta

    from domain.services.billing import BATCH_SIZE
    from infra.billing_worker import bill_everyone
    from infra.db import create_engine

    try:
        instant = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 instant: {as_of!r}") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)

    async def work(url: str) -> None:
        engine = create_engine(url, pool_size=2)
        try:
            billed = await bill_everyone(
                engine,
                instant.astimezone(UTC),
                batch_size=batch_size or BATCH_SIZE,
                grace=timedelta(seconds=_settings().invoice_grace_period),
            )
        finally:
            await engine.dispose()
        typer.echo(
            f"billed {billed.subscriptions} subscription periods as of {instant.isoformat()}:"
            f" {billed.invoices} invoices"
        )

    _with_database(work)


@app.command()
def serve() -> None:
    """Start the API. Without DATABASE_URL: embedded PostgreSQL, migrated and seeded."""
    from auth.scopes import ALL_SCOPES
    from infra.database import open_database
    from infra.logging import configure_logging
    from infra.seed import DEMO_TENANT

    settings = _settings()
    configure_logging(settings.log_level, production=settings.is_production)
    # uvicorn re-raises SIGTERM after its graceful shutdown; as SystemExit it unwinds through
    # `finally`, so the embedded PostgreSQL is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    database = asyncio.run(open_database(settings))
    try:
        asyncio.run(_prepare_database(settings, database.url))
        token = None
        if not settings.is_production:
            token = asyncio.run(_issue_token(database.url, settings, DEMO_TENANT, list(ALL_SCOPES)))
        if settings.workers > 1:
            _serve_workers(settings, database, token)
        else:
            _serve_in_process(settings, database, token)
    finally:
        database.stop()


def _serve_in_process(settings: Settings, database: Database, token: str | None) -> None:
    import uvicorn

    from infra.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database.url),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            timeout_graceful_shutdown=settings.shutdown_timeout,
            # Logging is configure_logging's (JSON lines in production), and each request
            # is logged once, by the app (infra/http/request_log.py).
            log_config=None,
            access_log=False,
        )
    )

    async def run() -> None:
        banner = None
        if token is not None:
            banner = asyncio.create_task(_banner_when_started(server, settings, database, token))
        await server.serve()
        if banner is not None:
            banner.cancel()

    # The event loop uvicorn's own workers (WORKERS > 1) run on, when it is installed.
    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())


def _serve_workers(settings: Settings, database: Database, token: str | None) -> None:
    """`WORKERS` processes on one port. Each builds its app from the environment
    (infra.app.app_from_environment); the database stays with this supervising process."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from infra.http.health import MULTIPROCESS_DIR

    # What each worker does on startup, done once here first: uvicorn's supervisor exits 0
    # when a worker fails to start, which a service manager would not restart.
    try:
        asyncio.run(_start_and_stop(settings, database.url))
    except Exception as exc:
        typer.echo(f"error: the server cannot start: {exc}", err=True)
        raise typer.Exit(3) from None
    os.environ["DATABASE_URL"] = database.url
    metrics_dir = tempfile.mkdtemp(prefix="ledgerline-metrics-")
    os.environ[MULTIPROCESS_DIR] = metrics_dir
    if token is not None:
        _print_banner(settings, database, token)
    try:
        uvicorn.run(
            "infra.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            # Each worker, on SIGTERM from the supervisor: stop listening, finish what is
            # in flight (at most this long), close the pool.
            timeout_graceful_shutdown=settings.shutdown_timeout,
            log_config=None,
            access_log=False,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


async def _start_and_stop(settings: Settings, url: str) -> None:
    from infra.app import create_app

    app = create_app(settings, url)
    async with app.router.lifespan_context(app):
        pass


async def _prepare_database(settings: Settings, url: str) -> None:
    """Development: migrated and, when empty, seeded. Production: must already be current."""
    from infra.db import create_engine
    from infra.migrate import SchemaOutOfDate, require_current_schema, upgrade_async
    from infra.seed import is_empty, seed_demo

    if not settings.is_production:
        await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        if settings.is_production:
            await require_current_schema(engine)
        elif await is_empty(engine):
            await seed_demo(engine)
    except SchemaOutOfDate as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        await engine.dispose()


async def _banner_when_started(
    server: object, settings: Settings, database: object, token: str
) -> None:
    while not getattr(server, "started", False):
        await asyncio.sleep(0.05)
    _print_banner(settings, database, token)


def _print_banner(settings: Settings, database: object, token: str) -> None:
    url = f"http://{settings.host}:{settings.port}/graphql"
    where = make_url(getattr(database, "url", "")).render_as_string(hide_password=True)
    embedded = getattr(database, "embedded", None) is not None
    lines = [
        "",
        "Ledgerline is starting (development)",
        f"  database:  {where}" + ("  (embedded PostgreSQL)" if embedded else ""),
        f"  GraphiQL:  {url}",
        f"  token:     {token}",
        "  paste into GraphiQL's Headers tab:",
        "    " + json.dumps({"Authorization": f"Bearer {token}"}),
        "",
    ]
    typer.echo("\n".join(lines))
    sys.stdout.flush()


if __name__ == "__main__":
    app()
