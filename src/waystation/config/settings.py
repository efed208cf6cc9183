"""Frozen settings, read once from the environment and the optional config file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waystation.config.catalogue import ALIASES, BUILTIN, ProviderSpec


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider as this deployment reaches it: endpoint and credentials resolved."""

    spec: ProviderSpec
    base_url: str
    api_key: str | None
    key_var: str
    headers: tuple[tuple[str, str], ...] = ()
    models: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path = Path(".waystation")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    master_key: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    max_body_bytes: int = 20 * 1024 * 1024
    drain_seconds: float = 30.0
    upstream_timeout: float = 600.0
    drop_unsupported_params: bool = False
    redis_url: str | None = None  # shared state (cache, health) across replicas when set
    health_failures: int = 3  # consecutive failures that cool a model down
    health_cooldown: float = 30.0  # seconds a failing model is skipped before it is probed
    retry_max_wait: float = 60.0  # cap on the total backoff of one request's retries
    database_url: str | None = None  # PostgreSQL when set; else SQLite under `home`
    traces: bool = True  # store a trace per request (metrics are counted either way)
    log_bodies: bool = True  # store request and response bodies with traces
    trace_buffer: int = 10_000  # traces held in memory while the database is slow or down
    trace_flush_seconds: float = 10.0  # at shutdown, how long queued traces may take to write
    prices_file: str | None = None  # JSON laid over the built-in price table
    metrics_require_key: bool = False  # `/metrics` needs an API key when true
    otel_endpoint: str | None = None  # OTLP endpoint: traces exported as OpenTelemetry spans
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    provider_aliases: Mapping[str, str] = field(default_factory=dict)
    cache_max_entries: int = 10_000  # bounds of the in-process response cache
    cache_max_bytes: int = 256 * 1024 * 1024
    prompt_cache_seconds: float = 5.0  # how long a stored prompt's version is reused unasked
    knowledge_database_url: str | None = None  # Postgres+pgvector for knowledge bases; else SQLite

    @property
    def db_path(self) -> Path:
        return self.home / "waystation.db"


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str]:
    for name in names:
        value = env.get(name)
        if value:
            return value, name
    return None, names[0] if names else ""


# The URL schemes of the databases the store is built for, each with the SQLAlchemy driver it
# is spoken with (`store.database.database_url`): asyncpg and aiosqlite.
DATABASE_DRIVERS = {
    "postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite", "sqlite+aiosqlite": "sqlite+aiosqlite",
}
DATABASE_URL_HELP = ("use a PostgreSQL URL (postgresql://user@host/db) or an SQLite one "
                     "(sqlite:///path/file.db)")


def _database_url(value: str | None) -> str | None:
    """WAYSTATION_DATABASE_URL, refused here in one line if no database the store speaks."""
    if not value:
        return None
    scheme, sep, _rest = value.partition("://")
    if not sep or scheme.lower() not in DATABASE_DRIVERS:
        shown = f"'{scheme}://'" if sep else "no scheme"
        raise ConfigError(f"WAYSTATION_DATABASE_URL has {shown}: {DATABASE_URL_HELP}")
    return value


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"WAYSTATION_CONFIG points to {path}, which is not a file")
    text = p.read_text(encoding="utf-8")
    import yaml  # only with a config file: most deployments have none, and it costs the start

    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def _provider_from_spec(
    spec: ProviderSpec, env: Mapping[str, str], override: Mapping[str, Any]
) -> ProviderConfig:
    key, key_var = _first(env, spec.key_vars)
    if override.get("api_key_env"):
        key_var = str(override["api_key_env"])
        key = env.get(key_var) or None
    if override.get("api_key"):
        key = str(override["api_key"])
    base, _ = _first(env, spec.base_url_vars)
    base = str(override.get("base_url") or base or spec.default_base_url).rstrip("/")
    headers = [(h, env[v]) for h, v in spec.extra_headers_from_env if env.get(v)]
    headers += [(str(k), str(v)) for k, v in (override.get("headers") or {}).items()]
    models = tuple(str(m) for m in override.get("models", spec.models))
    options: dict[str, str] = {}
    for option, names, default in spec.option_vars:
        value, _ = _first(env, names)
        value = str(override.get(option) or value or default or "")
        if value:
            options[option] = value
    return ProviderConfig(spec, base, key, key_var, tuple(headers), models, options)


def _custom_spec(name: str, conf: Mapping[str, Any]) -> ProviderSpec:
    if not conf.get("base_url"):
        raise ConfigError(f"provider '{name}' in the config file needs a base_url")
    wire = str(conf.get("wire", "openai"))
    if wire != "openai":
        raise ConfigError(f"provider '{name}': custom providers speak the 'openai' wire format")
    upper = name.upper().replace("-", "_")
    return ProviderSpec(
        name=name,
        wire=wire,
        default_base_url=str(conf["base_url"]),
        key_vars=(f"{upper}_API_KEY",),
        base_url_vars=(f"{upper}_BASE_URL",),
        needs_key=bool(conf.get("api_key") or conf.get("api_key_env")),
        extra_params=frozenset(conf.get("extra_params", ())),
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    file_conf: dict[str, Any] = {}
    if env.get("WAYSTATION_CONFIG"):
        file_conf = load_config_file(env["WAYSTATION_CONFIG"])
    overrides = file_conf.get("providers") or {}
    if not isinstance(overrides, dict):
        raise ConfigError("'providers' in the config file must be a mapping")
    providers: dict[str, ProviderConfig] = {}
    for name, spec in BUILTIN.items():
        providers[name] = _provider_from_spec(spec, env, overrides.get(name) or {})
    for name, conf in overrides.items():
        if name not in BUILTIN:
            providers[name] = _provider_from_spec(_custom_spec(name, conf), env, conf)
    aliases = {str(k): str(v) for k, v in (file_conf.get("models") or {}).items()}
    try:
        port = int(env.get("WAYSTATION_PORT", "8000"))
        workers = int(env.get("WAYSTATION_WORKERS", "1"))
        max_body = int(env.get("WAYSTATION_MAX_BODY_BYTES", str(20 * 1024 * 1024)))
        drain = float(env.get("WAYSTATION_DRAIN_SECONDS", "30"))
        upstream_timeout = float(env.get("WAYSTATION_UPSTREAM_TIMEOUT", "600"))
        cache_max_entries = int(env.get("WAYSTATION_CACHE_MAX_ENTRIES", "10000"))
        cache_max_bytes = int(env.get("WAYSTATION_CACHE_MAX_BYTES", str(256 * 1024 * 1024)))
        health_failures = int(env.get("WAYSTATION_HEALTH_FAILURES", "3"))
        health_cooldown = float(env.get("WAYSTATION_HEALTH_COOLDOWN", "30"))
        retry_max_wait = float(env.get("WAYSTATION_RETRY_MAX_WAIT", "60"))
        trace_buffer = int(env.get("WAYSTATION_TRACE_BUFFER", "10000"))
        trace_flush = float(env.get("WAYSTATION_TRACE_FLUSH_SECONDS", "10"))
        prompt_cache = float(env.get("WAYSTATION_PROMPT_CACHE_SECONDS") or 5)
    except ValueError as exc:
        raise ConfigError(f"a numeric WAYSTATION_ setting is not a number: {exc}") from exc
    log_format = env.get("WAYSTATION_LOG_FORMAT", "text").lower()
    if log_format not in {"text", "json"}:
        raise ConfigError("WAYSTATION_LOG_FORMAT must be 'text' or 'json'")
    return Settings(
        home=Path(env.get("WAYSTATION_HOME") or ".waystation"),
        host=env.get("WAYSTATION_HOST", "127.0.0.1"),
        port=port,
        workers=workers,
        master_key=env.get("WAYSTATION_MASTER_KEY") or None,
        log_level=env.get("WAYSTATION_LOG_LEVEL", "info").lower(),
        log_format=log_format,
        max_body_bytes=max_body,
        drain_seconds=drain,
        upstream_timeout=upstream_timeout,
        drop_unsupported_params=_bool(
            env.get("WAYSTATION_DROP_UNSUPPORTED_PARAMS"),
            bool(file_conf.get("drop_unsupported_params", False)),
        ),
        redis_url=env.get("WAYSTATION_REDIS_URL") or None,
        health_failures=health_failures,
        health_cooldown=health_cooldown,
        retry_max_wait=retry_max_wait,
        database_url=_database_url(env.get("WAYSTATION_DATABASE_URL")),
        traces=_bool(env.get("WAYSTATION_TRACES"), True),
        log_bodies=_bool(env.get("WAYSTATION_LOG_BODIES"), True),
        trace_buffer=trace_buffer,
        trace_flush_seconds=trace_flush,
        prices_file=env.get("WAYSTATION_PRICES_FILE") or None,
        metrics_require_key=_bool(env.get("WAYSTATION_METRICS_REQUIRE_KEY"), False),
        otel_endpoint=env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        providers=providers,
        aliases=aliases,
        provider_aliases=dict(ALIASES),
        cache_max_entries=cache_max_entries,
        cache_max_bytes=cache_max_bytes,
        prompt_cache_seconds=prompt_cache,
        knowledge_database_url=env.get("WAYSTATION_KNOWLEDGE_DATABASE_URL") or None,
    )
