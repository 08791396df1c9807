"""SSE framing as plain `curl -N` sees it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import ShoalServer


def curl_stream(server: ShoalServer, path: str, body: dict) -> tuple[str, str]:
    """POSTs `body` with `curl -N`; returns (raw response headers, raw body)."""
    curl = shutil.which("curl")
    assert curl, "curl is required"
    result = subprocess.run(
        [curl, "-sS", "-N", "--max-time", "60", "-D", "-", "-H", "Content-Type: application/json",
         "--data-binary", json.dumps(body), f"{server.url}{path}"],
        capture_output=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr.decode()
    raw = result.stdout.decode()
    head, separator, payload = raw.partition("\r\n\r\n")
    assert separator, raw
    return head, payload


def check_framing(head: str, payload: str) -> list[dict]:
    """Asserts SSE framing and returns the JSON events (without the final [DONE])."""
    status_line, *header_lines = head.split("\r\n")
    assert status_line.split()[1] == "200", status_line
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    assert headers["content-type"].startswith("text/event-stream"), headers
    assert payload.endswith("data: [DONE]\n\n"), payload[-200:]
    events = payload.split("\n\n")
    assert events[-1] == "", "stream must end with a blank line"
    events = events[:-1]
    assert events[-1] == "data: [DONE]"
    assert "data: [DONE]" not in events[:-1]
    parsed = []
    for event in events[:-1]:
        assert "\n" not in event, f"one data line per event expected: {event!r}"
        assert event.startswith("data: "), event
        parsed.append(json.loads(event[len("data: "):]))
    return parsed


@pytest.mark.parametrize("include_usage", [False, True])
def test_completions_sse_framing(server: ShoalServer, model_name, include_usage):
    body = {"model": model_name, "prompt": "Hello, my name is", "max_tokens": 6, "temperature": 0, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    events = check_framing(*curl_stream(server, "/v1/completions", body))
    assert all(e["object"] == "text_completion" for e in events)
    choice_events = [e for e in events if e["choices"]]
    assert choice_events[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    if include_usage:
        assert events[-1]["choices"] == []
        assert events[-1]["usage"]["completion_tokens"] == 6
    else:
        assert all(e.get("usage") is None for e in events)


def test_chat_sse_framing(server: ShoalServer, model_name):
    body = {"model": model_name, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 6,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    events = check_framing(*curl_stream(server, "/v1/chat/completions", body))
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len({e["id"] for e in events}) == 1
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 6
    assert events[-2]["choices"][0]["finish_reason"] == "length"


def test_non_streaming_is_plain_json(server: ShoalServer, model_name):
    body = {"model": model_name, "prompt": "Hello", "max_tokens": 2, "temperature": 0}
    head, payload = curl_stream(server, "/v1/completions", body)
    assert "application/json" in head.lower()
    assert json.loads(payload)["object"] == "text_completion"
