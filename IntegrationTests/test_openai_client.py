"""The official `openai` package against a real `shoal serve`."""

from __future__ import annotations

import openai
import pytest

from conftest import ShoalServer

PROMPT = "The capital of France is"
CHAT = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def client(server: ShoalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", timeout=60, max_retries=0)


def extra(model, key):
    """A field the OpenAI types do not declare (Shoal's router extensions)."""
    return (model.model_extra or {}).get(key)


def test_models_lists_the_served_model(client, model_name):
    assert [m.id for m in client.models.list().data] == [model_name]


def test_completion(client, model_name):
    response = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=8, temperature=0)
    assert response.object == "text_completion"
    assert response.id.startswith("cmpl-")
    assert response.model == model_name
    assert len(response.choices) == 1
    choice = response.choices[0]
    assert choice.index == 0
    assert choice.text
    assert choice.finish_reason in ("stop", "length")
    assert response.usage.completion_tokens <= 8
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_chat(client, model_name):
    response = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=8, temperature=0)
    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_max_completion_tokens_caps_chat(client, model_name):
    response = client.chat.completions.create(model=model_name, messages=CHAT, max_completion_tokens=3,
                                              temperature=0)
    assert response.usage.completion_tokens == 3
    assert response.choices[0].finish_reason == "length"


def test_streaming_completion_reassembles_to_the_non_streaming_text(client, model_name):
    whole = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=10, temperature=0)
    chunks = list(client.completions.create(model=model_name, prompt=PROMPT, max_tokens=10, temperature=0,
                                            stream=True))
    assert len(chunks) >= 2
    assert all(c.object == "text_completion" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.choices[0].text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert all(f is None for f in finishes[:-1])


def test_streaming_chat_role_first_and_finish_last(client, model_name):
    whole = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=10, temperature=0)
    chunks = list(client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=10,
                                                 temperature=0, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert all(f is None for f in finishes[:-1])
    assert all(c.usage is None for c in chunks), "usage chunk sent without include_usage"


def test_n2_completion_and_chat(client, model_name):
    completion = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=6, n=2, temperature=0.8,
                                           seed=7)
    assert sorted(c.index for c in completion.choices) == [0, 1]
    assert 2 <= completion.usage.completion_tokens <= 12, "usage counts the tokens of both choices"
    chat = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=6, n=2, temperature=0.8)
    assert sorted(c.index for c in chat.choices) == [0, 1]
    assert all(c.message.content for c in chat.choices)


def test_n2_streaming_chat_finishes_both_choices(client, model_name):
    chunks = list(client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=5, n=2,
                                                 temperature=0.8, stream=True))
    finished = {choice.index: choice.finish_reason for c in chunks for choice in c.choices if choice.finish_reason}
    assert sorted(finished) == [0, 1]
    first_delta = {}
    for c in chunks:
        for choice in c.choices:
            first_delta.setdefault(choice.index, choice.delta)
    assert all(delta.role == "assistant" for delta in first_delta.values())


def test_prompt_list_gives_one_choice_per_prompt_and_n(client, model_name):
    response = client.completions.create(model=model_name, prompt=["Red", "Green"], max_tokens=3, n=2,
                                         temperature=0)
    assert sorted(c.index for c in response.choices) == [0, 1, 2, 3]
    by_index = {c.index: c.text for c in response.choices}
    # Greedy: both samples of one prompt agree; indices are prompt_index * n + i.
    assert by_index[0] == by_index[1] and by_index[2] == by_index[3]
    single = client.completions.create(model=model_name, prompt="Green", max_tokens=3, temperature=0)
    assert by_index[2] == single.choices[0].text


def test_completion_logprobs(client, model_name):
    response = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=5, temperature=0, logprobs=3)
    logprobs = response.choices[0].logprobs
    assert logprobs is not None
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs)
    assert len(logprobs.tokens) == response.usage.completion_tokens
    assert "".join(logprobs.tokens) == response.choices[0].text
    for token, value, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs):
        assert value <= 0
        # A JSON object: Shoal encodes keys sorted (documented in OrderedLogprobs), so rank by value here.
        values = sorted(top.values(), reverse=True)
        assert len(values) == 3, top
        assert all(v <= 0 for v in values)
        # Greedy: the chosen token is the most likely one, and it is among the alternatives.
        assert value == pytest.approx(values[0], abs=1e-4)
        assert top.get(token) == pytest.approx(value, abs=1e-6), (token, top)
    assert len(logprobs.text_offset) == len(logprobs.tokens)


def test_chat_logprobs(client, model_name):
    response = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=5, temperature=0,
                                              logprobs=True, top_logprobs=3)
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens
    assert "".join(entry.token for entry in content) == response.choices[0].message.content
    for entry in content:
        assert entry.logprob <= 0
        assert entry.bytes == list(entry.token.encode())
        values = [top.logprob for top in entry.top_logprobs]
        assert len(values) == 3
        assert all(v <= 0 for v in values)
        assert values == sorted(values, reverse=True)
        assert entry.logprob == pytest.approx(values[0], abs=1e-4)


def test_include_usage_final_chunk(client, model_name):
    for stream in (
        client.completions.create(model=model_name, prompt=PROMPT, max_tokens=4, temperature=0, stream=True,
                                  stream_options={"include_usage": True}),
        client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=4, temperature=0, stream=True,
                                       stream_options={"include_usage": True}),
    ):
        chunks = list(stream)
        final = chunks[-1]
        assert final.choices == []
        assert final.usage is not None
        assert final.usage.completion_tokens == 4
        assert final.usage.prompt_tokens > 0
        assert final.usage.prompt_tokens + final.usage.completion_tokens == final.usage.total_tokens
        assert all(c.usage is None for c in chunks[:-1])


def test_prefix_caching_reports_cached_tokens(client, model_name):
    prompt = " ".join(f"Paragraph {i} talks about the sea, the wind and the ships of the harbour." for i in range(12))
    first = client.completions.create(model=model_name, prompt=prompt, max_tokens=2, temperature=0)
    second = client.completions.create(model=model_name, prompt=prompt, max_tokens=2, temperature=0)
    assert first.usage.prompt_tokens > 64
    assert second.usage.prompt_tokens_details is not None
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert 0 < cached < second.usage.prompt_tokens
    assert cached % 16 == 0, "cached tokens should be whole 16-token blocks"
    assert second.choices[0].text == first.choices[0].text


def test_seed_determinism(client, model_name):
    def sample(seed: int) -> str:
        return client.completions.create(model=model_name, prompt="Once upon a time", max_tokens=16,
                                         temperature=0.8, seed=seed).choices[0].text
    assert sample(1234) == sample(1234)

    def sample_chat(seed: int) -> str:
        return client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=16, temperature=0.8,
                                              seed=seed).choices[0].message.content
    assert sample_chat(99) == sample_chat(99)


def test_stop_strings(client, model_name):
    base = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=16, temperature=0)
    text = base.choices[0].text
    words = text.split()
    assert len(words) >= 3, text
    stop = " " + words[2]
    assert stop in text
    stopped = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=16, temperature=0, stop=[stop])
    assert stop not in stopped.choices[0].text
    assert stopped.choices[0].text == text[:text.index(stop)]
    assert stopped.choices[0].finish_reason == "stop"

    streamed = list(client.completions.create(model=model_name, prompt=PROMPT, max_tokens=16, temperature=0,
                                              stop=stop, stream=True))
    streamed_text = "".join(c.choices[0].text for c in streamed if c.choices)
    assert streamed_text == stopped.choices[0].text
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "stop"

    chat_base = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=16, temperature=0)
    chat_text = chat_base.choices[0].message.content
    chat_stop = chat_text.split()[1]
    chat = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=16, temperature=0,
                                          stop=[chat_stop])
    assert chat_stop not in chat.choices[0].message.content
    assert chat.choices[0].message.content == chat_text[:chat_text.index(chat_stop)]


def test_return_token_ids(client, model_name):
    completion = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=5, temperature=0,
                                           extra_body={"return_token_ids": True})
    choice = completion.choices[0]
    prompt_ids = extra(choice, "prompt_token_ids") or extra(completion, "prompt_token_ids")
    token_ids = extra(choice, "token_ids")
    assert isinstance(prompt_ids, list) and len(prompt_ids) == completion.usage.prompt_tokens
    assert isinstance(token_ids, list) and len(token_ids) == completion.usage.completion_tokens
    assert all(isinstance(t, int) and t >= 0 for t in prompt_ids + token_ids)

    chat = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=5, temperature=0,
                                          extra_body={"return_token_ids": True})
    prompt_ids = extra(chat, "prompt_token_ids") or extra(chat.choices[0], "prompt_token_ids")
    token_ids = extra(chat.choices[0], "token_ids")
    assert isinstance(prompt_ids, list) and len(prompt_ids) == chat.usage.prompt_tokens
    assert isinstance(token_ids, list) and len(token_ids) == chat.usage.completion_tokens

    chunks = list(client.completions.create(model=model_name, prompt=PROMPT, max_tokens=5, temperature=0,
                                            stream=True, extra_body={"return_token_ids": True}))
    streamed_ids = [t for c in chunks for ch in c.choices for t in (extra(ch, "token_ids") or [])]
    assert streamed_ids == extra(completion.choices[0], "token_ids")
    # Without the flag the extensions stay out of the response.
    plain = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=2, temperature=0)
    assert extra(plain.choices[0], "token_ids") is None


def test_token_ids_include_the_stop_token_as_usage_counts_it(client, server: ShoalServer, model_name):
    """As in vLLM: the end-of-turn token that ended a choice is in `token_ids` (it has no text)."""
    messages = [{"role": "user", "content": "Say hello."}]
    chat = client.chat.completions.create(model=model_name, messages=messages, max_tokens=120, temperature=0,
                                          extra_body={"return_token_ids": True})
    assert chat.choices[0].finish_reason == "stop"
    token_ids = extra(chat.choices[0], "token_ids")
    assert len(token_ids) == chat.usage.completion_tokens
    chunks = list(client.chat.completions.create(model=model_name, messages=messages, max_tokens=120, temperature=0,
                                                 stream=True, stream_options={"include_usage": True},
                                                 extra_body={"return_token_ids": True}))
    assert [t for c in chunks for ch in c.choices for t in (extra(ch, "token_ids") or [])] == token_ids
    assert chunks[-1].usage.completion_tokens == len(token_ids)
    text = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    assert text == chat.choices[0].message.content
    end_of_turn = server.post("/tokenize", {"model": model_name, "prompt": "<|im_end|>"}).json()["tokens"]
    assert token_ids[-1:] == end_of_turn


def test_tokenize_detokenize_round_trip(server: ShoalServer, model_name):
    tokens = server.post("/tokenize", {"model": model_name, "prompt": PROMPT})
    assert tokens.status_code == 200, tokens.text
    ids = tokens.json()["tokens"]
    assert ids and all(isinstance(t, int) for t in ids)
    text = server.post("/detokenize", {"model": model_name, "tokens": ids})
    assert text.status_code == 200, text.text
    assert text.json()["prompt"] == PROMPT
