"""`waystation prompts`: stored prompts from files, listed, shown and compared by version.

A prompt file is YAML (JSON is YAML too) with `display_name`, `path`, `messages`, and
optionally `model`, `parameters` (chat-completions parameters under their OpenAI names),
`description`, `metadata` and `commit_message`. It is checked exactly as `POST /v2/prompts`
checks a body, so a file the CLI accepts is one the API would have accepted. Commands talk to
the database directly, like `waystation keys`; a running gateway sees a change within
`WAYSTATION_PROMPT_CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import ValidationError

from waystation.api.errors_path import invalid_request_from
from waystation.api.prompts import PromptCreate, PromptUpdate, render_prompt, render_version
from waystation.errors import GatewayError, InvalidRequest
from waystation.prompts import config as configs
from waystation.store.database import is_transient
from waystation.store.pagination import PageRequest
from waystation.store.prompts import (
    INFO_FIELDS,
    PromptConfig,
    PromptStore,
    PromptVersion,
    StoredPrompt,
)

prompts_app = typer.Typer(help="Create, list, show and compare stored prompts.",
                          no_args_is_help=True)
T = TypeVar("T")
_FILE_FIELDS = frozenset({*INFO_FIELDS, "messages", "model", "parameters", "commit_message"})


def _with_store(work: Callable[[PromptStore], Awaitable[T]]) -> T:
    """Run `work` on a migrated store; any failure becomes one line on stderr."""
    from waystation.cli.db import open_database
    from waystation.cli.main import _settings

    settings = _settings()

    async def go() -> T:
        async with open_database(settings) as db:
            return await work(PromptStore(db))

    try:
        return asyncio.run(go())
    except GatewayError as error:
        _fail(error.message)
    except Exception as error:
        if not is_transient(error):
            raise
        _fail(f"the database is not reachable ({type(error).__name__}: {error})")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _read(file: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}")
    except yaml.YAMLError as error:
        _fail(f"{file} is neither YAML nor JSON: {str(error).splitlines()[0]}")
    if not isinstance(data, dict):
        _fail(f"{file} must hold a mapping (display_name, path, messages, …)")
    unknown = sorted(set(data) - _FILE_FIELDS)
    if unknown:
        _fail(f"{file}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_FILE_FIELDS))})")
    return data


def _as_body(data: dict[str, Any], file: Path, model: type[PromptUpdate]) -> dict[str, Any]:
    """The file as an API body, checked by the API's own model."""
    body = {k: v for k, v in data.items() if k in (*INFO_FIELDS, "commit_message")}
    if any(k in data for k in ("messages", "model", "parameters")):
        parameters = data.get("parameters") or {}
        if not isinstance(parameters, dict):
            _fail(f"{file}: parameters must be a mapping of parameter names to values")
        body["prompt"] = {**parameters, **{k: data[k] for k in ("messages", "model")
                                           if k in data}}
    try:
        checked: dict[str, Any] = model.model_validate(body).model_dump(exclude_unset=True)
    except ValidationError as error:
        _fail(f"{file}: {_in_file_terms(invalid_request_from(error, body)).message}")
    return checked


def _in_file_terms(error: InvalidRequest) -> InvalidRequest:
    """`prompt.temperature` is `parameters.temperature` in a file; messages and model stay."""
    param = error.param or ""
    if not param.startswith("prompt."):
        return error
    rest = param[len("prompt."):]
    named = rest if rest.split("[")[0].split(".")[0] in ("messages", "model") else (
        f"parameters.{rest}")
    return InvalidRequest(error.message.replace(param, named), param=named)


def _config(step: Callable[[], PromptConfig], file: Path) -> PromptConfig:
    try:
        return step()
    except InvalidRequest as error:
        _fail(f"{file}: {_in_file_terms(error).message}")


@prompts_app.command("create")
def create(file: Path = typer.Argument(..., help="YAML or JSON prompt file")) -> None:
    """Store a new prompt (its version 1) and print its id."""
    body = _as_body(_read(file), file, PromptCreate)
    if "prompt" not in body:
        _fail(f"{file}: messages are required")
    config = _config(lambda: configs.from_prompt(body["prompt"]), file)
    made = _with_store(lambda s: s.create(body, config, body.get("commit_message")))
    typer.echo(made.id)
    typer.echo(f"created prompt {made.id} ({made.display_name}), version 1", err=True)


@prompts_app.command("update")
def update(prompt_id: str = typer.Argument(..., metavar="ID"),
           file: Path = typer.Argument(..., help="YAML or JSON prompt file")) -> None:
    """Update a prompt from a file; a changed config makes a new version.

    The naming fields in the file are set; `messages`, `model` and `parameters`, when
    present, replace the latest version's (a `parameters` mapping replaces all of them).
    """
    data = _read(file)
    body = _as_body(data, file, PromptUpdate)

    def change(current: PromptConfig) -> PromptConfig:
        prompt = {"messages": data.get("messages", current.messages),
                  "model": data.get("model", current.model),
                  **((data.get("parameters") or {}) if "parameters" in data
                     else current.parameters)}
        try:
            return configs.from_prompt(prompt)
        except InvalidRequest as error:
            raise InvalidRequest(f"{file}: {_in_file_terms(error).message}") from None

    touches = any(k in data for k in ("messages", "model", "parameters"))

    async def work(s: PromptStore) -> tuple[int, int]:
        before = await s.get(prompt_id)
        after = await s.update(prompt_id, body, change if touches else None,
                               body.get("commit_message"))
        return before.latest.number, after.latest.number

    was, now = _with_store(work)
    if now == was:
        typer.echo(f"prompt {prompt_id}: config unchanged, still version {now}")
    else:
        typer.echo(f"prompt {prompt_id}: version {now}")


@prompts_app.command("list")
def list_prompts(search: str = typer.Option(None, help="Part of a name, path or description"),
                 limit: int = typer.Option(50, min=1, max=200)) -> None:
    """List prompts, newest first."""
    found, more = _with_store(lambda s: s.list(PageRequest(limit=limit), search))
    if not found:
        typer.echo("no prompts")
        return
    typer.echo(f"{'ID':<27}{'VERSION':>7}  {'MODEL':<28}{'UPDATED':<18}NAME (PATH)")
    for p in found:
        typer.echo(f"{p.id:<27}{p.latest.number:>7}  {p.latest.config.model or '-':<28}"
                   f"{_when(p.updated):<18}{p.display_name} ({p.path})")
    if more:
        typer.echo(f"(more than {limit}; use --limit or --search)")


@prompts_app.command("show")
def show(prompt_id: str = typer.Argument(..., metavar="ID"),
         version: str = typer.Option("latest", help="A version number, id or 'latest'"),
         as_json: bool = typer.Option(False, "--json", help="As the API answers")) -> None:
    """Show a prompt and one version's config (the latest unless --version says)."""
    async def both(s: PromptStore) -> tuple[StoredPrompt, PromptVersion]:
        return await s.get(prompt_id), await s.version(prompt_id, version)

    prompt, found = _with_store(both)
    if as_json:
        shown = {**render_prompt(prompt), "shown_version": render_version(found)}
        typer.echo(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
        return
    note = f" — {found.commit_message}" if found.commit_message else ""
    typer.echo(f"prompt       {prompt.id}  {prompt.display_name}")
    typer.echo(f"path         {prompt.path}")
    if prompt.description:
        typer.echo(f"description  {prompt.description}")
    typer.echo(f"version      {found.number} of {prompt.latest.number}, "
               f"{_when(found.created)}{note}")
    typer.echo("")
    sys.stdout.write(config_text(found.config))


@prompts_app.command("diff")
def diff(prompt_id: str = typer.Argument(..., metavar="ID"),
         first: str = typer.Argument(..., metavar="V1", help="Version number or id"),
         second: str = typer.Argument(..., metavar="V2", help="Version number or id")) -> None:
    """A unified diff of two versions' configs."""
    async def both(s: PromptStore) -> tuple[PromptVersion, PromptVersion]:
        return await s.version(prompt_id, first), await s.version(prompt_id, second)

    a, b = _with_store(both)
    lines = list(difflib.unified_diff(
        config_text(a.config).splitlines(keepends=True),
        config_text(b.config).splitlines(keepends=True),
        fromfile=f"{prompt_id} version {a.number}", tofile=f"{prompt_id} version {b.number}"))
    if not lines:
        typer.echo(f"versions {a.number} and {b.number} have the same config")
    sys.stdout.writelines(lines)


@prompts_app.command("delete")
def delete(prompt_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Delete a prompt and all its versions."""
    _with_store(lambda s: s.delete(prompt_id))
    typer.echo(f"deleted prompt {prompt_id}")


@functools.cache
def _readable_dumper() -> type[Any]:
    """A YAML dumper writing multi-line text as `|` blocks, so a diff shows the lines that
    changed. Made on first use, not at import: every `waystation` command imports this
    module, and only these commands need yaml."""
    import yaml

    class Readable(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                       style="|" if "\n" in value else None)

    Readable.add_representer(str, text)
    return Readable


def config_text(config: PromptConfig) -> str:
    """A config as readable YAML: model, parameters (sorted), then messages in order."""
    import yaml

    data = {"model": config.model, "parameters": dict(sorted(config.parameters.items())),
            "messages": config.messages}
    return yaml.dump(data, Dumper=_readable_dumper(), sort_keys=False, allow_unicode=True,
                     width=100)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")
