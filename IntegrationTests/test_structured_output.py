"""Structured output against a real `shoal serve`: every constrained answer parses and validates.

The official `openai` client sends `response_format` (json_object, json_schema, and a pydantic model through
`chat.completions.parse`); `jsonschema` validates what comes back. Sampling is at temperature 1.0 with fixed seeds,
so the small model wanders, and the grammar is what keeps the output valid.
"""

from __future__ import annotations

import json

import jsonschema
import openai
import pydantic
import pytest
import requests

from conftest import MODEL_DIR, ShoalServer, error_body, sse_events

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
SCHEMAS = {
    "person": PERSON,
    "nested": {
        "type": "object",
        "properties": {
            "team": {"type": "string", "maxLength": 30},
            "lead": PERSON,
            "members": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 3},
        },
        "required": ["team", "lead", "members"],
        "additionalProperties": False,
    },
    "enum": {
        "type": "object",
        "properties": {
            "colour": {"enum": ["red", "green", "blue"]},
            "shade": {"type": "string", "enum": ["light", "dark"]},
            "ok": {"type": "boolean"},
        },
        "required": ["colour", "ok"],
        "additionalProperties": False,
    },
    "anyof": {
        "type": "object",
        "properties": {
            "value": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 10}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 4},
        },
        "required": ["value"],
        "additionalProperties": False,
    },
    "numbers": {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": -5, "exclusiveMaximum": 50},
            "ratio": {"type": "number"},
        },
        "required": ["count", "ratio"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def client(server: ShoalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", timeout=120, max_retries=0)


def test_fifty_seeded_answers_at_temperature_one_all_validate(client, model_name):
    finished = 0
    truncated = 0
    for name, schema in SCHEMAS.items():
        for seed in range(10):
            response = client.chat.completions.create(
                model=model_name, temperature=1.0, seed=seed, max_tokens=200,
                messages=[{"role": "user", "content": f"Reply with a JSON {name} record."}],
                response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}})
            choice = response.choices[0]
            if choice.finish_reason == "length":
                truncated += 1
                continue
            assert choice.finish_reason == "stop", choice
            jsonschema.validate(json.loads(choice.message.content), schema)
            finished += 1
    assert finished + truncated == 50
    assert truncated <= 5, f"{truncated} of 50 answers hit max_tokens"


def test_json_object_mode_streams_one_object(client, model_name):
    stream = client.chat.completions.create(
        model=model_name, temperature=1.0, seed=7, max_tokens=200, stream=True,
        messages=[{"role": "user", "content": "Describe a cat as JSON."}], response_format={"type": "json_object"})
    text, reasons = "", []
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert reasons == ["stop"]
    assert isinstance(json.loads(text), dict)


class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=30)
    population: int = pydantic.Field(ge=0)
    coastal: bool


def test_pydantic_model_through_parse(client, model_name):
    parse = client.chat.completions.parse if hasattr(client.chat.completions, "parse") else client.beta.chat.completions.parse
    response = parse(model=model_name, temperature=1.0, seed=3, max_tokens=150, response_format=City,
                     messages=[{"role": "user", "content": "Give me a city."}])
    parsed = response.choices[0].message.parsed
    assert isinstance(parsed, City)


def test_vllm_and_llama_server_fields(server, model_name):
    cases = [
        ({"guided_regex": "[A-Z][a-z]{2,8} (is|was) [0-9]{1,3}"}, r"^[A-Z][a-z]{2,8} (is|was) [0-9]{1,3}$"),
        ({"guided_choice": ["positive", "negative"]}, r"^(positive|negative)$"),
        ({"grammar": 'root ::= "yes" | "no" | "maybe"'}, r"^(yes|no|maybe)$"),
        ({"structured_outputs": {"regex": "[0-9]{4}-[0-9]{2}"}}, r"^[0-9]{4}-[0-9]{2}$"),
    ]
    import re
    for fields, pattern in cases:
        for seed in range(3):
            response = server.post("/v1/completions", {
                "model": model_name, "prompt": "Answer:", "max_tokens": 30, "temperature": 1.0, "seed": seed, **fields})
            assert response.status_code == 200, response.text
            choice = response.json()["choices"][0]
            assert choice["finish_reason"] == "stop", (fields, choice)
            assert re.match(pattern, choice["text"]), (fields, choice["text"])
    # llama-server's json_schema field on completions, streamed.
    with requests.post(f"{server.url}/v1/completions", stream=True, timeout=60, json={
            "model": model_name, "prompt": "A point:", "max_tokens": 60, "temperature": 1.0, "seed": 1, "stream": True,
            "json_schema": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                            "required": ["x", "y"], "additionalProperties": False}}) as response:
        assert response.status_code == 200
        text = ""
        for data in sse_events(response.iter_lines()):
            if data == "[DONE]":
                break
            text += "".join(c.get("text", "") for c in json.loads(data)["choices"])
    point = json.loads(text)
    assert set(point) == {"x", "y"}


def test_length_limit_is_reported_not_hidden(server, model_name):
    response = server.post("/v1/chat/completions", {
        "model": model_name, "max_tokens": 5, "temperature": 1.0, "seed": 0,
        "messages": [{"role": "user", "content": "A person as JSON."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMAS["nested"]}}})
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice["message"]["content"])


@pytest.mark.parametrize("fields, param, words", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "patternProperties": {"a": {}}}}}},
     "response_format", "patternProperties"),
    ({"guided_grammar": "root ::= missing"}, "guided_grammar", "missing"),
    ({"guided_regex": "(a"}, "guided_regex", ""),
    ({"guided_regex": "a", "guided_choice": ["b"]}, "guided_choice", "only one"),
])
def test_unenforceable_constraints_are_400s_naming_the_construct(server, model_name, fields, param, words):
    response = server.post("/v1/chat/completions", {
        "model": model_name, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], **fields})
    assert response.status_code == 400, response.text
    error = error_body(response)
    assert error["param"] == param
    assert words in error["message"]


def test_base_model_completions_with_a_schema(start_server):
    gemma = MODEL_DIR / "gemma-3-270m-q4_k_m.gguf"
    if not gemma.exists():
        pytest.skip(f"missing: {gemma}")
    server = start_server("--model", str(gemma), "--served-model-name", "gemma3-270m")
    schema = SCHEMAS["enum"]
    for seed in range(3):
        response = server.post("/v1/completions", {
            "model": "gemma3-270m", "prompt": "The answer as JSON:", "max_tokens": 80, "temperature": 1.0,
            "seed": seed, "response_format": {"type": "json_schema", "json_schema": {"name": "e", "schema": schema}}})
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        jsonschema.validate(json.loads(choice["text"]), schema)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather", "description": "The weather forecast for a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "unit", "days"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time", "description": "The local time in a time zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 20}}, "required": ["zone"]},
    },
}
PARAMETERS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}
QUESTION = [{"role": "user", "content": "What will the weather be in Paris for the next 3 days?"}]


def test_required_tool_calls_validate(client, model_name):
    calls = 0
    for seed in range(8):
        response = client.chat.completions.create(
            model=model_name, messages=QUESTION, tools=[WEATHER, TIME], tool_choice="required",
            parallel_tool_calls=False, temperature=1.0, seed=seed, max_tokens=120)
        choice = response.choices[0]
        if choice.finish_reason == "length":
            continue
        assert choice.finish_reason == "tool_calls", choice
        assert choice.message.content is None
        (call,) = choice.message.tool_calls
        assert call.type == "function" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), PARAMETERS[call.function.name])
        calls += 1
    assert calls >= 6


def test_named_function_is_the_one_called(client, model_name):
    for seed in range(4):
        response = client.chat.completions.create(
            model=model_name, messages=QUESTION, tools=[WEATHER, TIME], temperature=1.0, seed=seed, max_tokens=120,
            tool_choice={"type": "function", "function": {"name": "get_time"}})
        choice = response.choices[0]
        assert choice.finish_reason in ("tool_calls", "length")
        if choice.finish_reason == "tool_calls":
            assert all(call.function.name == "get_time" for call in choice.message.tool_calls)
            for call in choice.message.tool_calls:
                jsonschema.validate(json.loads(call.function.arguments), PARAMETERS["get_time"])


def test_streamed_tool_call_fragments_reassemble_to_the_same_call(client, model_name):
    request = dict(model=model_name, messages=QUESTION, tools=[WEATHER], tool_choice="required",
                   parallel_tool_calls=False, temperature=1.0, seed=11, max_tokens=120)
    whole = client.chat.completions.create(**request).choices[0]
    assert whole.finish_reason == "tool_calls", whole
    calls: dict[int, dict] = {}
    reasons = []
    for chunk in client.chat.completions.create(stream=True, **request):
        for choice in chunk.choices:
            for fragment in choice.delta.tool_calls or []:
                call = calls.setdefault(fragment.index, {"id": None, "name": None, "arguments": ""})
                if fragment.id:
                    call["id"] = fragment.id
                if fragment.function and fragment.function.name:
                    call["name"] = fragment.function.name
                if fragment.function and fragment.function.arguments:
                    call["arguments"] += fragment.function.arguments
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert reasons == ["tool_calls"]
    assert [c["name"] for c in calls.values()] == [c.function.name for c in whole.message.tool_calls]
    assert [c["arguments"] for c in calls.values()] == [c.function.arguments for c in whole.message.tool_calls]
    assert all(c["id"].startswith("call_") for c in calls.values())


def test_auto_answers_in_text_or_with_a_valid_call_and_the_result_goes_back(client, model_name):
    response = client.chat.completions.create(
        model=model_name, messages=QUESTION, tools=[WEATHER], temperature=0.7, seed=5, max_tokens=150,
        parallel_tool_calls=False)
    choice = response.choices[0]
    assert choice.finish_reason in ("tool_calls", "stop"), choice
    if choice.finish_reason == "stop":
        assert isinstance(choice.message.content, str)
        return
    call = choice.message.tool_calls[0]
    jsonschema.validate(json.loads(call.function.arguments), PARAMETERS["get_weather"])
    # The call and its result go back; the model answers (in text, or with another valid call).
    follow = client.chat.completions.create(
        model=model_name, tools=[WEATHER], temperature=0.7, seed=5, max_tokens=150, parallel_tool_calls=False,
        messages=QUESTION + [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C, then rain."}])
    assert follow.choices[0].finish_reason in ("tool_calls", "stop", "length")


@pytest.mark.parametrize("fields, param", [
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "response_format"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
])
def test_bad_tool_requests_are_400s(server, model_name, fields, param):
    response = server.post("/v1/chat/completions", {"model": model_name, "max_tokens": 5, "messages": QUESTION, **fields})
    assert response.status_code == 400, response.text
    assert error_body(response)["param"] == param


def test_through_the_router(server, model_name):
    """`shoal route` in front of the replica: schemas (member order included) and tool calls pass through."""
    from conftest import RouterProcess

    with RouterProcess(server.url) as router:
        url = router.url
        routed = openai.OpenAI(base_url=f"{url}/v1", api_key="x", timeout=120, max_retries=0)
        # Keys in the schema's order, not alphabetical: the router must not reorder the schema.
        schema = {"type": "object", "properties": {"zebra": {"type": "integer"}, "apple": {"type": "boolean"}},
                  "required": ["zebra", "apple"], "additionalProperties": False}
        for stream in (False, True):
            request = dict(model=model_name, temperature=1.0, seed=2, max_tokens=60,
                           messages=[{"role": "user", "content": "JSON please."}],
                           response_format={"type": "json_schema", "json_schema": {"name": "z", "schema": schema}})
            if stream:
                text = "".join(c.choices[0].delta.content or "" for c in routed.chat.completions.create(stream=True, **request)
                               if c.choices)
            else:
                text = routed.chat.completions.create(**request).choices[0].message.content
            value = json.loads(text)
            jsonschema.validate(value, schema)
            assert list(value) == ["zebra", "apple"]
        response = routed.chat.completions.create(
            model=model_name, messages=QUESTION, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False,
            temperature=1.0, seed=1, max_tokens=120)
        choice = response.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        jsonschema.validate(json.loads(choice.message.tool_calls[0].function.arguments), PARAMETERS["get_weather"])


def test_constrained_and_free_requests_share_batches(server, model_name):
    from concurrent.futures import ThreadPoolExecutor

    schema = SCHEMAS["enum"]

    def constrained(seed):
        response = server.post("/v1/chat/completions", {
            "model": model_name, "temperature": 1.0, "seed": seed, "max_tokens": 80,
            "messages": [{"role": "user", "content": "A colour record."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "e", "schema": schema}}})
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        jsonschema.validate(json.loads(choice["message"]["content"]), schema)

    def free(seed):
        response = server.post("/v1/completions", {
            "model": model_name, "prompt": "Once upon a time", "temperature": 1.0, "seed": seed, "max_tokens": 40,
            "ignore_eos": True})
        assert response.json()["usage"]["completion_tokens"] == 40

    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(constrained if i % 2 else free, i) for i in range(8)]
        for job in jobs:
            job.result()


def test_a_resumed_constraint_continues_the_same_object(server, model_name):
    """What the router does when a stream breaks: prompt + tokens so far, constraint_resume_tokens = their count."""
    schema = SCHEMAS["person"]
    body = {"model": model_name, "prompt": "A person as JSON:", "temperature": 1.0, "seed": 4, "max_tokens": 80,
            "return_token_ids": True, "guided_json": schema}
    first = server.post("/v1/completions", body).json()
    prompt_ids = first["prompt_token_ids"] if "prompt_token_ids" in first else first["choices"][0]["prompt_token_ids"]
    generated = first["choices"][0]["token_ids"]
    assert first["choices"][0]["finish_reason"] == "stop" and len(generated) > 6
    half = generated[: len(generated) // 2]
    head = server.post("/detokenize", {"model": model_name, "tokens": half}).json()["prompt"]
    resumed = server.post("/v1/completions", {**body, "prompt": prompt_ids + half, "constraint_resume_tokens": len(half)})
    assert resumed.status_code == 200, resumed.text
    choice = resumed.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    jsonschema.validate(json.loads(head + choice["text"]), schema)
    # Tokens that do not follow the constraint cannot be resumed from.
    wrong = server.post("/v1/completions", {**body, "prompt": prompt_ids + half[1:], "constraint_resume_tokens": len(half) - 1})
    assert wrong.status_code == 400 and error_body(wrong)["param"] == "constraint_resume_tokens"
