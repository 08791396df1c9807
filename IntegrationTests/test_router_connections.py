"""The router keeps its connections to a replica open between requests (streamed and not), and still notices a
client that goes away: the replica aborts the dropped stream.
"""
import json
import signal
from pathlib import Path

import requests

from conftest import HTTP_TIMEOUT_S, READY_DEADLINE_S, BackgroundStream, RouterProcess, metric_sum, poll_until


def sockets_to(port: int) -> set[tuple[str, str]]:
    """(local, remote) address pairs of every TCP socket on this host with `port` at either end, closed ones in
    TIME_WAIT included (a connection closed after each request would leave one per request)."""
    pairs = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == port or int(remote.rsplit(":", 1)[1], 16) == port:
                pairs.add((local, remote))
    return pairs


def test_the_router_reuses_its_connections_and_still_sees_disconnects(server, model_name):
    port = int(server.url.rsplit(":", 1)[1])
    with RouterProcess(server.url) as router:
        before = sockets_to(port)
        for index in range(12):
            body = {"model": model_name, "prompt": f"Count to {index}:", "max_tokens": 3, "stream": index % 2 == 0}
            with requests.post(f"{router.url}/v1/completions", json=body, stream=True, timeout=HTTP_TIMEOUT_S) as answer:
                assert answer.status_code == 200
                text = answer.content.decode()
                assert ("data: [DONE]" in text) if body["stream"] else json.loads(text)["choices"]
        opened = sockets_to(port) - before
        # One connection for the streams, one for the rest and one for health probes, each seen from both ends;
        # twelve requests on fresh connections would leave at least twelve.
        assert len(opened) <= 8, f"{len(opened)} new sockets to the replica for 12 requests: {sorted(opened)}"

        # A client that drops its stream: the router notices, closes its request to the replica, the replica aborts.
        aborted = metric_sum(server.metrics(), "vllm:request_success_total", finished_reason="abort")
        body = {"model": model_name, "prompt": "Write a long story:", "max_tokens": 2000, "ignore_eos": True,
                "stream": True}
        with requests.post(f"{router.url}/v1/completions", json=body, stream=True, timeout=HTTP_TIMEOUT_S) as answer:
            assert answer.status_code == 200
            next(answer.iter_lines())
        poll_until(lambda: metric_sum(server.metrics(), "vllm:request_success_total", finished_reason="abort")
                   > aborted, READY_DEADLINE_S, "the replica to abort the dropped stream")
        poll_until(lambda: metric_sum(server.metrics(), "vllm:num_requests_running") == 0, READY_DEADLINE_S,
                   "the replica to go idle")


def test_sigterm_lets_the_routers_streams_finish_then_exits_zero(server, model_name):
    """On SIGTERM the router stops taking connections but relays the streams in flight to their end, then exits 0
    (as nginx does on a graceful quit)."""
    with RouterProcess(server.url) as router:
        max_tokens = 120
        stream = BackgroundStream(router.url, {"model": model_name, "prompt": "Count slowly:", "max_tokens": max_tokens,
                                               "ignore_eos": True, "temperature": 0, "stream": True})
        try:
            stream.wait_for_first_chunk()
            router.process.send_signal(signal.SIGTERM)
            poll_until(lambda: not stream.thread.is_alive(), READY_DEADLINE_S, "the stream to finish during the drain")
        finally:
            stream.join()
        events, failures = stream.events, stream.failures
        assert router.process.wait(timeout=30) == 0, router.log_text()[-2000:]
        assert not failures, failures
        assert events[-1] == "[DONE]", events[-3:]
        chunks = [json.loads(event) for event in events[:-1]]
        assert sum(len(chunk["choices"][0].get("text", "")) > 0 for chunk in chunks if chunk["choices"]) > max_tokens // 2
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
        try:
            requests.get(f"{router.url}/v1/models", timeout=5)
            refused = False
        except requests.ConnectionError:
            refused = True
        assert refused, "the router still answers after it exited"
