"""The `waystation` command: serve the gateway and manage API keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
import sys

import typer

from waystation.cli.db import db_app, open_database
from waystation.cli.kb import kb_app
from waystation.cli.prompts import prompts_app
from waystation.config.settings import ConfigError, Settings, load_settings
from waystation.observe.logs import configure_logging
from waystation.server.workers import (
    Supervisor,
    bind,
    exit_zero_after_drain,
    reuse_port_supported,
)
from waystation.store.keys import KeyRecord, KeyStore

app = typer.Typer(help="Waystation, a self-hosted AI gateway.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke the API keys callers use.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(prompts_app, name="prompts")

log = logging.getLogger("waystation.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _ensure_a_key(settings: Settings) -> None:
    """Never serve open: with no key at all, make one and show it this once."""
    if settings.master_key:
        return

    async def ensure() -> tuple[str, KeyRecord, str] | None:
        async with open_database(settings) as db:
            store = KeyStore(db)
            if await store.count_active():
                return None
            return (*await store.create("default"), db.shown_url)

    made = asyncio.run(ensure())
    if made is None:
        return
    secret, record, where = made
    typer.echo(
        "No API key existed, so one was created (it is shown only now; store it safely):\n"
        f"\n    {secret}\n\n"
        f"Send it as 'Authorization: Bearer <key>'. Manage keys with 'waystation keys'. "
        f"(key id {record.id}, database {where})",
        err=True,
    )


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on [env WAYSTATION_HOST, 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [env WAYSTATION_PORT, 8000]"),
    workers: int = typer.Option(None, help="Worker processes [env WAYSTATION_WORKERS, 1]"),
) -> None:
    """Serve the gateway API."""
    import uvicorn

    settings = _settings()
    _ensure_a_key(settings)
    _allow_many_connections()
    options = uvicorn_options(settings)
    host, port = host or settings.host, port or settings.port
    count = workers or settings.workers
    if count > 1 and reuse_port_supported():
        try:
            holder = bind(host, port)  # the port is ours, or one clear line now
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
            raise typer.Exit(1) from None
        configure_logging(settings.log_level, settings.log_format)
        raise typer.Exit(Supervisor(count, options, holder, settings.drain_seconds).run())
    exit_zero_after_drain()
    if count == 1:
        gc.disable()  # until the app is built: `server.factory.tune_gc` turns it back on
    uvicorn.run(host=host, port=port, workers=count, **options)  # type: ignore[arg-type]


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """How uvicorn serves the gateway, in one worker or in each of several."""
    return {
        "app": "waystation.server.factory:build",
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "none",  # no WebSocket route: not importing a WebSocket library saves the start
        "lifespan": "on",
        "access_log": False,
        "log_config": None,
        "log_level": settings.log_level,
        "timeout_graceful_shutdown": int(settings.drain_seconds),
        "timeout_keep_alive": 75,
        "server_header": False,
        "proxy_headers": False,  # nothing reads the client address; its middleware costs CPU
        "date_header": False,
    }


def _allow_many_connections() -> None:
    """Raise the open-files limit to its hard ceiling: each streamed request holds two sockets
    (caller and provider), so the usual soft limit of 1,024 caps a worker near 500 streams."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError) as error:  # not on this platform, or refused
        logging.getLogger("waystation").warning("cannot raise the open-files limit: %s", error)


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., "--name", help="A label for the key")) -> None:
    """Create a key and print it once (only its hash is stored)."""

    async def create() -> tuple[str, KeyRecord]:
        async with open_database(_settings()) as db:
            return await KeyStore(db).create(name)

    secret, record = asyncio.run(create())
    typer.echo(secret)
    typer.echo(f"created key {record.id} ({name}); it will not be shown again", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys (never the secrets)."""

    async def listed() -> list[KeyRecord]:
        async with open_database(_settings()) as db:
            return await KeyStore(db).list_keys()

    rows = asyncio.run(listed())
    if not rows:
        typer.echo("no keys")
        return
    typer.echo(f"{'ID':<22} {'NAME':<20} {'KEY':<14} {'CREATED':<20} STATUS")
    for r in rows:
        created = dt.datetime.fromtimestamp(r.created, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        status = "revoked" if r.revoked else "active"
        typer.echo(f"{r.id:<22} {r.name:<20} {r.hint:<14} {created:<20} {status}")


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="Key id, or name (revokes all of that name)"),
) -> None:
    """Revoke a key; running gateways refuse it within seconds."""

    async def revoke() -> list[KeyRecord]:
        async with open_database(_settings()) as db:
            return await KeyStore(db).revoke(key)

    revoked = asyncio.run(revoke())
    if not revoked:
        typer.echo(f"error: no active key with id or name '{key}'", err=True)
        raise typer.Exit(1)
    for r in revoked:
        typer.echo(f"revoked {r.id} ({r.name})")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:  # e.g. the home folder cannot be written
        logging.getLogger("waystation.cli").debug("command failed", exc_info=True)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
