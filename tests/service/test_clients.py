"""The official openai and ollama Python clients against the proxy."""

from __future__ import annotations

import ollama
import openai
import pytest

from .conftest import KEY, MODEL


def test_openai_client_streams_chat_with_usage(served):
    client = openai.OpenAI(base_url=served.url + "/v1", api_key=KEY, max_retries=0)
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True},
        extra_headers={"X-Fake-Ollama-Tokens": "4"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok0 tok1 tok2 tok3 "
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert [m.id for m in client.models.list()] == [MODEL]
    emb = client.embeddings.create(model=MODEL, input="hello")
    assert len(emb.data[0].embedding) == 8


def test_openai_client_with_a_bad_key_gets_authentication_error(served):
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"


def test_ollama_client_through_the_proxy(served):
    client = ollama.Client(host=served.url, headers={"Authorization": f"Bearer {KEY}"})
    parts = [p.message.content for p in client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)]
    assert "".join(parts) == "tok0 tok1 tok2 tok3 tok4 "
    gen = client.generate(model=MODEL, prompt="hi", options={"num_predict": 2})
    assert gen.response == "tok0 tok1 " and gen.done
    assert [m.model for m in client.list().models] == [MODEL]
    assert [m.model for m in client.ps().models] == [MODEL]


def test_ollama_client_cannot_pull_or_delete(served):
    client = ollama.Client(host=served.url, headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(ollama.ResponseError) as e:
        client.pull("llama3")
    assert e.value.status_code == 403
    with pytest.raises(ollama.ResponseError) as e:
        client.delete(MODEL)
    assert e.value.status_code == 403


def test_ollama_client_without_a_key_is_refused(served):
    with pytest.raises(ollama.ResponseError) as e:
        ollama.Client(host=served.url).list()
    assert e.value.status_code == 401
