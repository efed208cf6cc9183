"""The official clients the end-to-end tests call a running gateway with."""

from __future__ import annotations

import openai
from orq_ai_sdk import Orq

from tests.conftest import RunningGateway


def oai(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)


def orq(gw: RunningGateway) -> Orq:
    return Orq(api_key=gw.key, server_url=gw.url)
