"""`waystation db`: bring the database schema up to date, or say where it stands.

The gateway also migrates at start-up; this command is for deployments that prefer to migrate
as a separate step (before rolling out new replicas) and want to see what ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer

from waystation.config.settings import Settings
from waystation.store.database import Database, database_url

db_app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


def database_for(settings: Settings) -> Database:
    return Database(database_url(settings.database_url, settings.home))


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """A migrated database for one command, closed afterwards."""
    db = database_for(settings)
    try:
        await db.ensure_schema()
        yield db
    finally:
        await db.close()


def _settings() -> Settings:
    from waystation.cli.main import _settings as load

    return load()


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration, printing each as it runs."""
    from waystation.store.migrations import LATEST, current_version
    from waystation.store.migrations import upgrade as run

    async def go() -> tuple[list[int], int]:
        db = database_for(_settings())
        try:
            typer.echo(f"database {db.shown_url}")
            db.prepare_folder()
            applied = await run(db, typer.echo)
            return applied, await current_version(db)
        finally:
            await db.close()

    applied, version = asyncio.run(go())
    if applied:
        typer.echo(f"applied {len(applied)} migration(s); schema version {version}")
    else:
        typer.echo(f"already up to date (schema version {version} of {LATEST})")


@db_app.command("status")
def status() -> None:
    """Show the schema version and the migrations not applied yet."""
    from waystation.store.migrations import MIGRATIONS, current_version

    async def go() -> int:
        db = database_for(_settings())
        try:
            typer.echo(f"database {db.shown_url}")
            db.prepare_folder()
            return await current_version(db)
        finally:
            await db.close()

    version = asyncio.run(go())
    typer.echo(f"schema version {version}")
    for m in MIGRATIONS:
        mark = "applied" if m.version <= version else "pending"
        typer.echo(f"  {m.version:04d}  {mark:<8} {m.name}")
