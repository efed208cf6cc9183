"""Settings follow each provider SDK's variable names; the config file adds the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from waystation.config.settings import ConfigError, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    s = load_settings({})
    assert s.home == Path(".waystation")
    assert s.db_path == Path(".waystation/waystation.db")
    assert s.port == 8000 and s.workers == 1
    assert s.providers["openai"].base_url == "https://api.openai.com/v1"
    assert s.providers["groq"].base_url == "https://api.groq.com/openai/v1"
    assert s.providers["ollama"].base_url == "http://localhost:11434/v1"


def test_provider_variables_follow_the_sdk_convention() -> None:
    s = load_settings({
        "OPENAI_API_KEY": "k1", "OPENAI_BASE_URL": "http://h/v1/",
        "OPENAI_ORG_ID": "org", "OPENAI_PROJECT_ID": "proj",
        "GROQ_API_KEY": "k2", "PPLX_API_KEY": "k3",
    })
    openai = s.providers["openai"]
    assert (openai.api_key, openai.base_url) == ("k1", "http://h/v1")
    assert ("OpenAI-Organization", "org") in openai.headers
    assert ("OpenAI-Project", "proj") in openai.headers
    assert s.providers["groq"].api_key == "k2"
    assert s.providers["perplexity"].api_key == "k3"
    assert s.providers["mistral"].api_key is None
    assert s.providers["mistral"].key_var == "MISTRAL_API_KEY"


def test_config_file_adds_providers_and_aliases(tmp_path: Path) -> None:
    conf = tmp_path / "ws.toml"
    conf.write_text(
        '[providers.corp]\nbase_url = "http://corp/v1"\napi_key_env = "CORP_TOKEN"\n'
        'models = ["m1"]\n\n[providers.openai]\nbase_url = "http://override/v1"\n\n'
        '[models]\nfast = "corp/m1"\n'
    )
    s = load_settings({"WAYSTATION_CONFIG": str(conf), "CORP_TOKEN": "t"})
    assert s.providers["corp"].base_url == "http://corp/v1"
    assert s.providers["corp"].api_key == "t"
    assert s.providers["corp"].models == ("m1",)
    assert s.providers["openai"].base_url == "http://override/v1"
    assert s.aliases == {"fast": "corp/m1"}


def test_yaml_config_is_read_too(tmp_path: Path) -> None:
    conf = tmp_path / "ws.yaml"
    conf.write_text("providers:\n  local:\n    base_url: http://l/v1\nmodels:\n  x: local/y\n")
    s = load_settings({"WAYSTATION_CONFIG": str(conf)})
    assert s.providers["local"].spec.needs_key is False
    assert s.aliases["x"] == "local/y"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"WAYSTATION_CONFIG": "/nonexistent.toml"}, "not a file"),
        ({"WAYSTATION_PORT": "eighty"}, "not a number"),
        ({"WAYSTATION_LOG_FORMAT": "xml"}, "WAYSTATION_LOG_FORMAT"),
        ({"WAYSTATION_DATABASE_URL": "localhost/db"}, "DATABASE_URL has no scheme: use a Post"),
        ({"WAYSTATION_DATABASE_URL": "mysql+aiomysql://u@h/db"},
         r"DATABASE_URL has 'mysql\+aiomysql://': use a PostgreSQL URL"),
        ({"WAYSTATION_DATABASE_URL": "sqlite+pysqlite:///x.db"}, "or an SQLite one"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_a_custom_provider_needs_a_base_url(tmp_path: Path) -> None:
    conf = tmp_path / "ws.toml"
    conf.write_text("[providers.corp]\napi_key = 'x'\n")
    with pytest.raises(ConfigError, match="base_url"):
        load_settings({"WAYSTATION_CONFIG": str(conf)})
