"""`waystation kb ingest PATH… --kb KEY`: files and folders into a knowledge base, in-process.

The command builds the gateway's own objects from the same settings as `waystation serve`
(database, embedding models) and talks to the knowledge engine through `KnowledgeService`,
not over HTTP, so it works with the server stopped. Progress is a bar over files; each failed
file is one line (`FAILED path: kind: reason`); the last line is the summary. The exit code
is 1 when any file failed, so scripts can tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import typer

from waystation.config.settings import ConfigError, Settings, load_settings
from waystation.errors import GatewayError
from waystation.knowledge.ingest.cleanup import CLEANERS
from waystation.knowledge.ingest.local import FileResult, discover, ingest_file
from waystation.knowledge.ports import ChunkingOptions, KnowledgeService

kb_app = typer.Typer(help="Knowledge bases: ingest files from disk.", no_args_is_help=True)


class EngineUnavailable(Exception):
    pass


@asynccontextmanager
async def open_knowledge(settings: Settings) -> AsyncIterator[KnowledgeService]:
    """The knowledge engine as the server would hold it (`Gateway.knowledge`)."""
    from waystation.server.app import create_app

    app = create_app(settings)
    await app.store.db.ensure_schema()
    await app.startup()
    try:
        knowledge = getattr(app, "knowledge", None)
        if knowledge is None:
            raise EngineUnavailable("this build of Waystation has no knowledge engine "
                                    "(Gateway.knowledge is not set), so nothing can be indexed")
        yield knowledge
    finally:
        await app.shutdown()


def _options(chunking: str, max_chars: int, overlap: int, cleanup: list[str]) -> ChunkingOptions:
    names = {n.strip() for item in cleanup for n in item.split(",") if n.strip()}
    unknown = names - CLEANERS.keys()
    if unknown:
        raise typer.BadParameter(f"unknown cleanup option(s) {', '.join(sorted(unknown))}; "
                                 f"choose from {', '.join(CLEANERS)}", param_hint="--cleanup")
    if chunking not in ("default", "advanced"):
        raise typer.BadParameter("must be default or advanced", param_hint="--chunking")
    if chunking == "advanced" and not 0 <= overlap < max_chars:
        raise typer.BadParameter("--overlap must be at least 0 and less than --max-chars")
    return ChunkingOptions(kind="advanced" if chunking == "advanced" else "default",
                           max_characters=max_chars, overlap=overlap, cleanup=frozenset(names))


@kb_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files and folders (walked recursively)"),
    kb: str = typer.Option(..., "--kb", help="Knowledge base key or id"),
    chunking: str = typer.Option("default", help="default (~500 characters) or advanced"),
    max_chars: int = typer.Option(500, "--max-chars", help="advanced: chunk_max_characters"),
    overlap: int = typer.Option(0, help="advanced: chunk_overlap"),
    cleanup: list[str] = typer.Option([], help="Cleanup options (repeat or comma-separate): "
                                      + ", ".join(CLEANERS)),
) -> None:
    """Parse, clean, chunk, embed and index files; already indexed files are skipped."""
    options = _options(chunking, max_chars, overlap, cleanup)
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    files = discover(paths)
    if not files:
        typer.echo("error: no files of a supported kind under the given paths", err=True)
        raise typer.Exit(2)
    try:
        results = asyncio.run(_run(settings, kb, files, options))
    except EngineUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    except GatewayError as exc:  # an unknown knowledge base, an unreachable database, …
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _summary(results)
    if any(r.outcome == "failed" for r in results):
        raise typer.Exit(1)


async def _run(settings: Settings, kb: str, files: list[Path], options: ChunkingOptions
               ) -> list[FileResult]:
    # here, not at the top: every `waystation` command imports this module, `serve` included
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    results: list[FileResult] = []
    async with open_knowledge(settings) as knowledge:
        await knowledge.resolve(kb)  # an unknown key fails before any work
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("ingesting", total=len(files))
            for path in files:
                progress.update(task, description=f"ingesting {path.name}")
                result = await ingest_file(knowledge, kb, path, options)
                if result.outcome == "failed":
                    progress.console.print(f"FAILED {path}: {result.reason}",
                                           markup=False, highlight=False)
                results.append(result)
                progress.advance(task)
    return results


def _summary(results: list[FileResult]) -> None:
    indexed = [r for r in results if r.outcome == "indexed"]
    skipped = sum(r.outcome == "skipped" for r in results)
    failed = sum(r.outcome == "failed" for r in results)
    chunks = sum(r.chunks for r in indexed)
    typer.echo(f"{len(indexed)} indexed ({chunks} chunks), {skipped} skipped (already "
               f"indexed), {failed} failed")
