"""The embedding fakes, checked with the official SDKs: if `openai`, `cohere` and `google-genai`
parse the fakes' answers into their own typed models, the fakes speak those wire formats, and
the gateway tests that use them are meaningful."""

from __future__ import annotations

import cohere
import openai
import pytest
from cohere.core.api_error import ApiError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.fakes.cohere_embed_server import API_KEY as COHERE_KEY
from tests.fakes.cohere_embed_server import FakeCohereEmbed
from tests.fakes.gemini_embed_server import API_KEY as GEMINI_KEY
from tests.fakes.gemini_embed_server import FakeGeminiEmbed
from tests.fakes.openai_server import FakeOpenAI, fake_vector
from tests.fakes.server import Fault, module_fake

cohere_fake = module_fake(FakeCohereEmbed)
gemini_fake = module_fake(FakeGeminiEmbed)


def test_openai_sdk_reads_float_and_base64_embeddings(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    plain = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"],
                                     encoding_format="float")
    packed = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"],
                                      dimensions=4)  # the SDK asks for base64 by default
    assert [d.embedding for d in plain.data] == [fake_vector("a"), fake_vector("b")]
    assert packed.data[1].embedding == pytest.approx(fake_vector("b", 4), abs=1e-6)
    assert fake_openai.requests[-1].body["encoding_format"] == "base64"
    assert plain.usage.prompt_tokens == 2


def test_openai_sdk_sees_an_injected_error(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url,
                           max_retries=0)
    fake_openai.add_fault(Fault(status=503))
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="m", input="x")


def test_cohere_sdk_embeds_by_type(cohere_fake: FakeCohereEmbed) -> None:
    client = cohere.ClientV2(api_key=COHERE_KEY, base_url=cohere_fake.base_url)
    res = client.embed(model="embed-v4.0", texts=["hello", "world"],
                       input_type="search_document", embedding_types=["float"])
    assert res.embeddings.float_ == [fake_vector("hello"), fake_vector("world")]
    assert res.meta is not None and res.meta.billed_units is not None
    assert res.meta.billed_units.input_tokens == 2


def test_cohere_sdk_reranks_best_first(cohere_fake: FakeCohereEmbed) -> None:
    client = cohere.ClientV2(api_key=COHERE_KEY, base_url=cohere_fake.base_url)
    res = client.rerank(model="rerank-v3.5", query="red apples",
                        documents=["blue sky", "red apples are sweet", "apples"], top_n=2)
    assert [r.index for r in res.results] == [1, 2]
    assert res.results[0].relevance_score == 1.0


def test_cohere_sdk_sees_the_fakes_refusals(cohere_fake: FakeCohereEmbed) -> None:
    client = cohere.ClientV2(api_key=COHERE_KEY, base_url=cohere_fake.base_url)
    with pytest.raises(ApiError) as err:
        client.embed(model="embed-v4.0", texts=["x"] * 97, input_type="search_query")
    assert err.value.status_code == 400
    bad = cohere.ClientV2(api_key="wrong", base_url=cohere_fake.base_url)
    with pytest.raises(ApiError) as denied:
        bad.rerank(model="rerank-v3.5", query="q", documents=["d"])
    assert denied.value.status_code == 401


def test_genai_sdk_embeds_through_batch_embed_contents(gemini_fake: FakeGeminiEmbed) -> None:
    client = genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(
        base_url=gemini_fake.base_url, api_version="v1beta"))
    res = client.models.embed_content(
        model="gemini-embedding-001", contents=["one", "two"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=4))
    assert [e.values for e in res.embeddings or []] == [fake_vector("one", 4),
                                                        fake_vector("two", 4)]
    seen = gemini_fake.requests[-1]
    assert seen.path.endswith("/gemini-embedding-001:batchEmbedContents")
    assert seen.body["requests"][0]["taskType"] == "RETRIEVAL_QUERY"


def test_genai_sdk_sees_a_bad_key(gemini_fake: FakeGeminiEmbed) -> None:
    client = genai.Client(api_key="wrong", http_options=types.HttpOptions(
        base_url=gemini_fake.base_url, api_version="v1beta"))
    with pytest.raises(genai_errors.ClientError) as err:
        client.models.embed_content(model="gemini-embedding-001", contents=["x"])
    assert err.value.code == 400
