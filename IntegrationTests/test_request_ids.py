"""One request followed through the router's and the replica's logs by its id (`x-request-id`)."""
import re

import requests

from conftest import HTTP_TIMEOUT_S, RouterProcess, poll_until, sse_events

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def lines_with(text: str, request_id: str) -> list[str]:
    return [line for line in text.splitlines() if f"request_id={request_id}" in line]


def test_request_id_follows_a_request_through_router_and_replica(start_server, model_name):
    replica = start_server("--log-level", "debug")
    with RouterProcess(replica.url, args=("--log-level", "debug")) as router:
        body = {"model": model_name, "prompt": "The capital of France is", "max_tokens": 4}

        # The client's id is kept, returned, and logged by both processes.
        answer = requests.post(f"{router.url}/v1/completions", json=body, headers={"X-Request-Id": "trace-me-42"},
                               timeout=HTTP_TIMEOUT_S)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-request-id"] == "trace-me-42"

        # Without one, the router makes one up; a streamed request carries it the same way.
        streamed = requests.post(f"{router.url}/v1/completions", json={**body, "stream": True}, stream=True,
                                 timeout=HTTP_TIMEOUT_S)
        assert streamed.status_code == 200
        made = streamed.headers["x-request-id"]
        assert ID_PATTERN.match(made), made
        assert list(sse_events(streamed.iter_lines()))[-1] == "[DONE]"

        # An id that would break a log line (spaces) is replaced, not echoed.
        odd = requests.post(f"{router.url}/v1/completions", json=body, headers={"X-Request-Id": "two words"},
                            timeout=HTTP_TIMEOUT_S)
        assert ID_PATTERN.match(odd.headers["x-request-id"]), odd.headers

        for request_id in ("trace-me-42", made):
            # The replica logs the finish once the engine ends the request; the router its replica's answer.
            poll_until(lambda: any("request finished" in line for line in lines_with(replica.log_text(), request_id)),
                       10, f"the replica's log line for {request_id}")
            replica_lines = lines_with(replica.log_text(), request_id)
            assert any("request queued" in line for line in replica_lines), replica_lines
            router_lines = lines_with(router.log_text(), request_id)
            assert any("replica answered" in line for line in router_lines), router.log_text()[-2000:]


def test_the_server_answers_with_a_request_id_and_errors_carry_it(server, model_name):
    answer = server.post("/v1/completions", {"model": model_name, "prompt": "Hi", "max_tokens": 1},
                         headers={"X-Request-Id": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"
    refused = server.post("/v1/completions", {"model": model_name, "prompt": ""})
    assert refused.status_code == 400
    assert ID_PATTERN.match(refused.headers["x-request-id"]), refused.headers
