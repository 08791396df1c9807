"""Server behaviour end to end: greedy parity with `shoal generate`, errors, disconnect, drain, metrics,
concurrency. Engine state changes are awaited by polling /metrics with bounded deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import (HTTP_TIMEOUT_S, BackgroundStream, ShoalServer, error_body, generate_json, metric_sum, poll_until)

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = "vllm:kv_cache_usage_perc"
SETTLE_DEADLINE_S = 20.0


def wait_idle(server: ShoalServer) -> dict:
    """Polls /metrics until nothing runs or waits and no KV block is in use; returns the samples."""
    def idle():
        samples = server.metrics()
        quiet = (metric_sum(samples, RUNNING) == 0 and metric_sum(samples, WAITING) == 0
                 and metric_sum(samples, KV_USAGE) == 0)
        return samples if quiet else None
    return poll_until(idle, SETTLE_DEADLINE_S, "running, waiting and KV usage back at 0")


def completion(server: ShoalServer, model: str, **fields) -> requests.Response:
    return server.post("/v1/completions", {"model": model, **fields})


# MARK: Greedy parity with `shoal generate`

PARITY_PROMPTS = [
    "The quick brown fox",
    "def fibonacci(n):",
    "In 1492, Christopher Columbus",
]


@pytest.mark.parametrize("text", PARITY_PROMPTS)
def test_greedy_completion_matches_generate(server, model_name, shoal_bin, model_file, text):
    max_tokens = 24
    tokenized = server.post("/tokenize", {"model": model_name, "prompt": text})
    assert tokenized.status_code == 200, tokenized.text
    ids = tokenized.json()["tokens"]
    reference = generate_json(shoal_bin, model_file, "--prompt-ids", ",".join(map(str, ids)),
                              "--temperature", "0", "--max-tokens", str(max_tokens))
    assert reference["prompt_ids"] == ids
    expected = [t["id"] for t in reference["tokens"]]

    response = completion(server, model_name, prompt=ids, max_tokens=max_tokens, temperature=0,
                          return_token_ids=True)
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["prompt_token_ids"] == ids
    assert choice["token_ids"] == expected
    assert choice["text"] == reference["text"]
    assert choice["finish_reason"] == reference["finish_reason"]


def test_exact_precision_server_matches_exact_generate(start_server, model_name, shoal_bin, model_file):
    # `--precision exact` serves the float32 path, token for token what `shoal generate` (exact by default) gives.
    exact = start_server("--precision", "exact")
    text = PARITY_PROMPTS[0]
    reference = generate_json(shoal_bin, model_file, "--prompt", text, "--temperature", "0", "--max-tokens", "24",
                              precision="exact")
    response = completion(exact, model_name, prompt=text, max_tokens=24, temperature=0, return_token_ids=True)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["token_ids"] == [t["id"] for t in reference["tokens"]]
    assert response.json()["choices"][0]["text"] == reference["text"]


def test_greedy_chat_matches_generate_chat(server, model_name, shoal_bin, model_file):
    message = "What is the tallest mountain on Earth?"
    reference = generate_json(shoal_bin, model_file, "--chat", message, "--temperature", "0", "--max-tokens", "24")
    response = server.post("/v1/chat/completions", {
        "model": model_name, "messages": [{"role": "user", "content": message}], "max_tokens": 24,
        "temperature": 0, "return_token_ids": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["prompt_token_ids"] == reference["prompt_ids"]
    assert body["choices"][0]["token_ids"] == [t["id"] for t in reference["tokens"]]
    assert body["choices"][0]["message"]["content"] == reference["text"]


# MARK: Concurrency

CONCURRENT_PROMPTS = [
    "The sun rises in the",
    "My favourite fruit is",
    "Water boils at",
    "The best way to learn a language is",
    "Cats and dogs are",
    "A haiku about winter:",
    "import numpy as np\n",
    "The moon orbits",
]


def test_concurrent_greedy_equals_sequential(server, model_name):
    def run(prompt: str) -> tuple[str, list[int]]:
        response = completion(server, model_name, prompt=prompt, max_tokens=20, temperature=0,
                              return_token_ids=True)
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        return choice["text"], choice["token_ids"]

    sequential = [run(p) for p in CONCURRENT_PROMPTS]
    barrier = threading.Barrier(len(CONCURRENT_PROMPTS))

    def run_together(prompt: str):
        barrier.wait(timeout=HTTP_TIMEOUT_S)
        return run(prompt)

    with ThreadPoolExecutor(len(CONCURRENT_PROMPTS)) as pool:
        concurrent = list(pool.map(run_together, CONCURRENT_PROMPTS))
    for prompt, one, together in zip(CONCURRENT_PROMPTS, sequential, concurrent):
        assert together == one, f"prompt {prompt!r}: concurrent {together} != sequential {one}"
    wait_idle(server)


# MARK: Errors

def test_malformed_json_is_400(server):
    response = requests.post(f"{server.url}/v1/completions", data=b'{"model": "x", "prompt": ',
                             headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 400
    assert error_body(response)["type"] == "invalid_request_error"


def test_invalid_temperature_is_400_naming_it(server, model_name):
    for path, body in (("/v1/completions", {"prompt": "hi"}),
                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})):
        response = server.post(path, {"model": model_name, "max_tokens": 2, "temperature": -1, **body})
        assert response.status_code == 400, response.text
        error = error_body(response)
        assert error["param"] == "temperature"
        assert "temperature" in error["message"]


@pytest.mark.parametrize("path,body,param", [
    ("/v1/completions", {"prompt": "hi", "max_tokens": "many"}, "max_tokens"),
    ("/v1/completions", {"prompt": "hi", "max_tokens": -1}, "max_tokens"),
    ("/v1/completions", {"prompt": "hi", "top_p": 1.5}, "top_p"),
    ("/v1/completions", {"prompt": "hi", "n": 0}, "n"),
    ("/v1/completions", {"prompt": "hi", "logprobs": 100}, "logprobs"),
    ("/v1/completions", {"prompt": [], "max_tokens": 2}, "prompt"),
    ("/v1/completions", {"max_tokens": 2}, "prompt"),
    ("/v1/chat/completions", {"messages": "hi"}, "messages"),
    ("/v1/chat/completions", {"messages": [], "max_tokens": 2}, "messages"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 50,
                              "logprobs": True}, "top_logprobs"),
])
def test_invalid_parameters_are_400_naming_them(server, model_name, path, body, param):
    response = server.post(path, {"model": model_name, **body})
    assert response.status_code == 400, response.text
    error = error_body(response)
    assert error["param"] == param or param in error["message"], error
    assert requests.get(f"{server.url}/health", timeout=HTTP_TIMEOUT_S).status_code == 200


def test_unknown_model_is_404(server):
    response = completion(server, "no-such-model", prompt="hi", max_tokens=2)
    assert response.status_code == 404
    error = error_body(response)
    assert error["param"] == "model"
    assert "no-such-model" in error["message"]


@pytest.mark.parametrize("method,path", [("GET", "/v1/nope"), ("POST", "/v1/nope"), ("GET", "/nope")])
def test_unknown_route_is_404(server, method, path):
    response = requests.request(method, f"{server.url}{path}", json={}, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 404
    error_body(response)


def test_image_content_parts_are_rejected_by_name(server, model_name):
    response = server.post("/v1/chat/completions", {
        "model": model_name, "max_tokens": 2,
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]})
    assert response.status_code == 400
    assert error_body(response)["param"] == "messages[0].content[0]"


def test_limits_context_and_body_size(start_server, model_name):
    server = start_server("--max-model-len", "128", "--max-body-bytes", "1000")
    prompt = "one two three four five six seven eight nine ten " * 8
    tokens = server.post("/tokenize", {"model": model_name, "prompt": prompt}).json()["count"]
    assert 64 < tokens < 128

    over = completion(server, model_name, prompt=prompt, max_tokens=128 - tokens + 1)
    assert over.status_code == 400, over.text
    error = error_body(over)
    assert "128" in error["message"], error
    fits = completion(server, model_name, prompt=prompt, max_tokens=128 - tokens, temperature=0)
    assert fits.status_code == 200, fits.text

    chat_over = server.post("/v1/chat/completions", {
        "model": model_name, "messages": [{"role": "user", "content": prompt}], "max_tokens": 100})
    assert chat_over.status_code == 400
    assert "128" in error_body(chat_over)["message"]

    too_large = completion(server, model_name, prompt="x" * 2000, max_tokens=1)
    assert too_large.status_code == 413, too_large.text
    error_body(too_large)
    # The server is still healthy and leaked nothing.
    assert requests.get(f"{server.url}/health", timeout=HTTP_TIMEOUT_S).status_code == 200
    wait_idle(server)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key(start_server, model_name, how):
    if how == "flag":
        server = start_server("--api-key", "secret", "--api-key", "other",
                              ready_headers={"Authorization": "Bearer secret"})
        key = "secret"
        second = server.post("/v1/completions", {"model": model_name, "prompt": "hi", "max_tokens": 1},
                             headers={"Authorization": "Bearer other"})
        assert second.status_code == 200, "--api-key is repeatable"
    else:
        server = start_server(env={"SHOAL_API_KEY": "envsecret"},
                              ready_headers={"Authorization": "Bearer envsecret"})
        key = "envsecret"
    body = {"model": model_name, "prompt": "hi", "max_tokens": 1}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}):
        response = server.post("/v1/completions", body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        error_body(response)
    models = requests.get(f"{server.url}/v1/models", timeout=HTTP_TIMEOUT_S)
    assert models.status_code == 401
    ok = server.post("/v1/completions", body, headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.text
    # Probes and scrapers need no key (as in vLLM).
    for path in ("/health", "/metrics"):
        assert requests.get(f"{server.url}{path}", timeout=HTTP_TIMEOUT_S).status_code == 200, path


def simultaneously(count: int, call) -> list[requests.Response]:
    """`count` calls of `call()` released at the same moment from their own threads."""
    barrier = threading.Barrier(count)

    def fire(_: int) -> requests.Response:
        barrier.wait(timeout=HTTP_TIMEOUT_S)
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(fire, range(count)))


def test_full_waiting_queue_is_429_with_retry_after(start_server, model_name):
    server = start_server("--max-num-seqs", "1", "--max-waiting", "1")
    count = 6
    responses = simultaneously(count, lambda: completion(server, model_name, prompt="Tell me a long story.",
                                                         max_tokens=128, ignore_eos=True, temperature=0))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, statuses
    assert 1 <= statuses.count(200) <= count - 1, statuses
    for response in responses:
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
            assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, response.headers
            error_body(response)
        else:
            assert response.json()["usage"]["completion_tokens"] == 128
    wait_idle(server)


def test_a_burst_fills_the_free_running_slots_before_the_waiting_limit(start_server, model_name):
    # 40 simultaneous requests, 64 running slots and 4 waiting places: every request is admitted.
    server = start_server("--max-num-seqs", "64", "--max-waiting", "4")
    count = 40
    statuses = [r.status_code for r in simultaneously(count, lambda: completion(
        server, model_name, prompt="Count to ten.", max_tokens=4, ignore_eos=True, temperature=0))]
    assert statuses == [200] * count, statuses
    wait_idle(server)


# MARK: Disconnect

def test_client_disconnect_frees_the_sequence(server, model_name):
    before = wait_idle(server)
    generated_before = metric_sum(before, "vllm:generation_tokens_total")
    session = requests.Session()
    response = session.post(f"{server.url}/v1/completions", json={
        "model": model_name, "prompt": "Write an endless essay.", "max_tokens": 2000, "ignore_eos": True,
        "temperature": 0, "stream": True}, stream=True, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200
    # Keep the line iterator referenced: a `break` out of a for loop would destroy the generator, which
    # already closes the connection before the "still running" check below.
    lines = response.iter_lines()
    received = [line for line in (next(lines) for _ in range(6)) if line.startswith(b"data: ")]
    assert len(received) == 3, received
    during = server.metrics()
    assert (metric_sum(during, RUNNING), metric_sum(during, WAITING)) == (1, 0), (
        "the stream should still be running before the close", received)
    response.close()
    session.close()

    after = wait_idle(server)
    aborted_before = metric_sum(before, "vllm:request_success_total", finished_reason="abort")
    poll_until(lambda: metric_sum(server.metrics(), "vllm:request_success_total", finished_reason="abort")
               == aborted_before + 1, SETTLE_DEADLINE_S, "the disconnected request to be counted as aborted")
    generated = metric_sum(after, "vllm:generation_tokens_total") - generated_before
    assert generated < 2000, "the sequence ran to completion instead of being cancelled"
    ok = completion(server, model_name, prompt="Hi", max_tokens=2, temperature=0)
    assert ok.status_code == 200


# MARK: Drain

def test_sigterm_drains_running_requests_then_exits_zero(start_server, model_name):
    server = start_server("--shutdown-timeout", "30")
    max_tokens = 150
    stream = BackgroundStream(server.url, {
        "model": model_name, "prompt": "Count slowly:", "max_tokens": max_tokens, "ignore_eos": True,
        "temperature": 0, "stream": True, "stream_options": {"include_usage": True}, "return_token_ids": True,
    })
    events, failures, reader = stream.events, stream.failures, stream.thread
    try:
        stream.wait_for_first_chunk()
        server.process.send_signal(signal.SIGTERM)

        health_statuses: list[object] = []
        new_request: list[object] = []

        def observe() -> bool:
            try:
                status = requests.get(f"{server.url}/health", timeout=5).status_code
            except requests.ConnectionError:
                status = "refused"
            health_statuses.append(status)
            if status == 503 and not new_request:
                try:
                    response = completion(server, model_name, prompt="Hi", max_tokens=2)
                    new_request.append(response.status_code)
                    if response.status_code == 503:
                        error_body(response)
                except requests.ConnectionError:
                    new_request.append("refused")
            return not reader.is_alive() or server.process.poll() is not None

        poll_until(observe, 40, "the running stream to finish during the drain")
        assert 503 in health_statuses, f"/health never answered 503 during the drain: {health_statuses[:20]}"
        assert new_request and new_request[0] in (503, "refused"), new_request
    finally:
        reader.join(timeout=HTTP_TIMEOUT_S)

    assert not failures, failures
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and usage["completion_tokens"] == max_tokens
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "length"
    ids = [t for c in chunks for ch in c["choices"] for t in ch.get("token_ids") or []]
    assert len(ids) == max_tokens
    try:
        code = server.process.wait(timeout=35)
    except subprocess.TimeoutExpired:
        pytest.fail("shoal serve did not exit within the drain deadline")
    assert code == 0, server.log_text()[-2000:]


# MARK: Metrics values

def test_metrics_values_after_k_requests(start_server, model_name):
    server = start_server()
    chat = {"model": model_name, "messages": [{"role": "user", "content": "Hello!"}], "temperature": 0}
    usages = []
    usages.append(completion(server, model_name, prompt="One", max_tokens=3, temperature=0).json()["usage"])
    usages.append(server.post("/v1/chat/completions", {**chat, "max_tokens": 4}).json()["usage"])
    for path, body in (("/v1/completions", {"model": model_name, "prompt": "Two three", "max_tokens": 5,
                                            "temperature": 0}),
                       ("/v1/chat/completions", {**chat, "max_tokens": 2})):
        with server.post(path, {**body, "stream": True, "stream_options": {"include_usage": True}},
                         stream=True) as response:
            assert response.status_code == 200
            payloads = [line[6:] for line in response.iter_lines() if line.startswith(b"data: ")]
        assert payloads[-1] == b"[DONE]"
        usages.append(json.loads(payloads[-2])["usage"])
    k = len(usages)

    def settled():
        samples = server.metrics()
        return samples if metric_sum(samples, "vllm:request_success_total") >= k else None
    samples = poll_until(settled, SETTLE_DEADLINE_S, f"request_success_total to reach {k}")
    assert metric_sum(samples, "vllm:request_success_total") == k
    assert metric_sum(samples, "vllm:prompt_tokens_total") == sum(u["prompt_tokens"] for u in usages)
    assert metric_sum(samples, "vllm:generation_tokens_total") >= sum(u["completion_tokens"] for u in usages)
    assert metric_sum(samples, "vllm:time_to_first_token_seconds_count") == k
    assert metric_sum(samples, "vllm:e2e_request_latency_seconds_count") == k
    assert metric_sum(samples, "vllm:time_to_first_token_seconds_sum") > 0
    inf_bucket = metric_sum(samples, "vllm:time_to_first_token_seconds_bucket", le="+Inf")
    assert inf_bucket == k
    assert metric_sum(samples, RUNNING) == 0
    assert metric_sum(samples, WAITING) == 0
    assert metric_sum(samples, KV_USAGE) == 0
    queries = metric_sum(samples, "vllm:prefix_cache_queries_total")
    assert queries == sum(u["prompt_tokens"] for u in usages)
    assert metric_sum(samples, "vllm:prefix_cache_hits_total") == sum(
        u["prompt_tokens_details"]["cached_tokens"] for u in usages)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def test_replicas_end_when_their_parent_is_killed(start_server):
    server = start_server("--replicas", "2")
    kids = poll_until(lambda: (lambda k: k if len(k) == 2 else None)(_children(server.process.pid)), 30, "two replica children")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)

    def running(pid: int) -> bool:
        try:
            return "zombie" not in open(f"/proc/{pid}/status").read()
        except OSError:
            return False

    def all_gone() -> bool:
        return not any(running(k) for k in kids)

    poll_until(all_gone, 30, "the orphaned replicas to exit")


def test_router_passes_tokenize_and_detokenize_through(server, model_name):
    from conftest import RouterProcess

    with RouterProcess(server.url) as router:
        for path, body in (("/tokenize", {"model": model_name, "prompt": "Hello there, router"}),
                           ("/detokenize", {"model": model_name, "tokens": [19556, 665, 28, 8734]})):
            direct = server.post(path, body)
            routed = requests.post(f"{router.url}{path}", json=body, timeout=HTTP_TIMEOUT_S)
            assert routed.status_code == direct.status_code == 200, routed.text
            assert routed.json() == direct.json()
        # Without a model the router picks the only pool; a bad body is refused as a replica would refuse it.
        assert requests.post(f"{router.url}/tokenize", json={"prompt": "x"}, timeout=HTTP_TIMEOUT_S).status_code == 200
        bad = requests.post(f"{router.url}/tokenize", json={"model": 3, "prompt": "x"}, timeout=HTTP_TIMEOUT_S)
        assert bad.status_code == 400
        error_body(bad)
