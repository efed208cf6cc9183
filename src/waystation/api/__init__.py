"""The wire contract: the pydantic models of what the gateway accepts and answers.

Models that no chat completion uses (management, prompts, knowledge, files, embeddings and the
documentation-only answers) are built when first used (`defer_build`), not at start-up: building
their validators was about 3 % of the instructions of a cold start, and a gateway that serves
only chat completions never needs most of them.
"""

from pydantic import BaseModel, ConfigDict


class LazyModel(BaseModel):
    """The base of the models built on first use."""

    model_config = ConfigDict(defer_build=True)
