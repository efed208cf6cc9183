"""The prompts API's wire contract (`/v2/prompts`, orq SDK `prompts` client) and its answers.

Request models check the outer shape; the config inside (`prompt` or the deprecated
`prompt_config`) is checked by `prompts/config.py` with the chat request's own models, so its
errors name fields exactly as a chat request's would. Answers carry the config twice, as orq
does: `prompt` (messages, model and parameters under their OpenAI names; what SDK 4.17 reads)
and the deprecated `prompt_config` (`model_parameters` under orq's camelCase names).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from waystation.api import LazyModel
from waystation.prompts.config import legacy_parameters
from waystation.store.prompts import PromptConfig, PromptVersion, StoredPrompt
from waystation.store.times import iso

OWNER = DOMAIN_ID = "default"  # a self-hosted gateway is one tenant

UseCase = Literal[
    "Agents simulations", "Agents", "API interaction", "Autonomous Agents", "Chatbots",
    "Classification", "Code understanding", "Code writing", "Conversation", "Documents QA",
    "Evaluation", "Extraction", "Multi-modal", "Self-checking", "Sentiment analysis", "SQL",
    "Summarization", "Tagging", "Translation (document)", "Translation (sentences)",
]
Language = Literal["Chinese", "Dutch", "English", "French", "German", "Russian", "Spanish"]


class _Strict(LazyModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(LazyModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class PromptMetadata(_Strict):
    """orq's closed lists, so every SDK can read back what was stored."""

    use_cases: list[UseCase] | None = None
    language: Language | None = None


class PromptFields(BaseModel):
    """`messages`, `model`, and any chat-completions parameter under its OpenAI name."""

    model_config = ConfigDict(extra="allow")
    messages: list[dict[str, Any]] | None = None
    model: str | None = Field(None, description="provider/model; replaces a request's model")


class LegacyPromptConfig(_Strict):
    """Deprecated: `model_parameters` under orq's camelCase names (maxTokens, topP, …)."""

    messages: list[dict[str, Any]] | None = None
    model: str | None = None
    provider: str | None = None
    model_parameters: dict[str, Any] | None = None


class PromptUpdate(_Strict):
    """PATCH: the naming fields given are set; `prompt` (or `prompt_config`) is merged into
    the latest config (`null` removes a parameter) and, when that changes it, makes a version."""

    display_name: str | None = Field(None, min_length=1, max_length=255)
    path: str | None = Field(None, min_length=1, max_length=1024)
    description: str | None = Field(None, max_length=4096)
    metadata: PromptMetadata | None = None
    prompt: PromptFields | None = None
    prompt_config: LegacyPromptConfig | None = None
    commit_message: str | None = Field(None, max_length=4096,
                                       description="kept with the version this makes")


class PromptCreate(PromptUpdate):
    """`prompt` (or the deprecated `prompt_config`) is required; it becomes version 1."""

    display_name: str = Field(min_length=1, max_length=255)
    path: str = Field(min_length=1, max_length=1024)


class PromptVersionRecord(_Answer):
    id: str = Field(alias="_id")
    prompt_id: str
    version: int
    timestamp: str
    created: str
    commit_message: str | None = None
    prompt: dict[str, Any]
    prompt_config: dict[str, Any]


class PromptRecord(_Answer):
    id: str = Field(alias="_id")
    type: Literal["prompt"] = "prompt"
    owner: str
    domain_id: str
    created: str
    updated: str
    display_name: str
    description: str | None = None
    path: str
    prompt: dict[str, Any]
    prompt_config: dict[str, Any]
    metadata: dict[str, Any] = {}
    version: int = Field(description="the latest version's number")
    version_id: str


class PromptList(_Answer):
    object: Literal["list"] = "list"
    data: list[PromptRecord]
    has_more: bool


class PromptVersionList(_Answer):
    object: Literal["list"] = "list"
    data: list[PromptVersionRecord]
    has_more: bool


def render_prompt(prompt: StoredPrompt) -> dict[str, Any]:
    return {
        "_id": prompt.id,
        "type": "prompt",
        "owner": OWNER,
        "domain_id": DOMAIN_ID,
        "created": iso(prompt.created),
        "updated": iso(prompt.updated),
        "display_name": prompt.display_name,
        "description": prompt.description,
        "path": prompt.path,
        **config_fields(prompt.latest.config),
        "metadata": prompt.metadata,
        "version": prompt.latest.number,
        "version_id": prompt.latest.id,
    }


def render_version(version: PromptVersion) -> dict[str, Any]:
    return {
        "_id": version.id,
        "prompt_id": version.prompt_id,
        "version": version.number,
        "timestamp": iso(version.created),
        "created": iso(version.created),
        "commit_message": version.commit_message,
        **config_fields(version.config),
    }


def config_fields(config: PromptConfig) -> dict[str, Any]:
    """`prompt` and `prompt_config`: one config in both of orq's spellings."""
    return {
        "prompt": {"messages": config.messages, "model": config.model, **config.parameters},
        "prompt_config": {"messages": config.messages, "model": config.model,
                          "model_parameters": legacy_parameters(config.parameters)},
    }
