"""The fake Azure OpenAI resource, checked with the official client (`openai.AzureOpenAI`).

If the official client can talk to the fake, the fake speaks Azure's wire format: the paths,
the api-version query, the api-key header, the error bodies and the annotation frames.
"""

from __future__ import annotations

import openai
import pytest
from tests.fakes.azure_server import (
    API_KEY,
    API_VERSION,
    FILTERED_ANSWER,
    FILTERED_PROMPT,
    FakeAzureOpenAI,
)
from tests.fakes.server import module_fake

fake = module_fake(FakeAzureOpenAI)


@pytest.fixture
def client(fake: FakeAzureOpenAI) -> openai.AzureOpenAI:
    fake.reset()
    return openai.AzureOpenAI(azure_endpoint=fake.endpoint, api_key=API_KEY,
                              api_version=API_VERSION, max_retries=0)


def test_official_client_gets_an_answer_from_the_deployment(
    fake: FakeAzureOpenAI, client: openai.AzureOpenAI
) -> None:
    answer = client.chat.completions.create(
        model="gpt4o-prod", messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content == "Echo: hello"
    assert answer.model == "gpt-4o-2024-08-06"
    seen = fake.requests[-1]
    assert seen.path == f"/openai/deployments/gpt4o-prod/chat/completions?api-version={API_VERSION}"
    assert seen.headers["api-key"] == API_KEY


def test_official_client_streams_past_the_annotation_frames(client: openai.AzureOpenAI) -> None:
    stream = client.chat.completions.create(
        model="mini", messages=[{"role": "user", "content": "two words"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices == [] and chunks[0].id == ""  # Azure's prompt-filter frame
    text = "".join(c.choices[0].delta.content or "" for c in chunks
                   if c.choices and c.choices[0].delta is not None)
    assert text == "Echo: two words"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_filtered_prompt_is_a_400_with_code_content_filter(client: openai.AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt4o-prod", messages=[{"role": "user", "content": FILTERED_PROMPT}])
    assert info.value.code == "content_filter"


def test_filtered_answer_ends_with_content_filter(client: openai.AzureOpenAI) -> None:
    answer = client.chat.completions.create(
        model="gpt4o-prod", messages=[{"role": "user", "content": FILTERED_ANSWER}])
    assert answer.choices[0].finish_reason == "content_filter"


def test_wrong_key_and_unknown_deployment_are_refused(fake: FakeAzureOpenAI) -> None:
    bad = openai.AzureOpenAI(azure_endpoint=fake.endpoint, api_key="wrong",
                             api_version=API_VERSION, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="mini", messages=[{"role": "user", "content": "x"}])
    good = openai.AzureOpenAI(azure_endpoint=fake.endpoint, api_key=API_KEY,
                              api_version=API_VERSION, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        good.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
