"""`GET /openapi.json` describes the API, and a schema-driven fuzzer (schemathesis, as vLLM's CI runs it) holds
the server and the router to it: no 5xx, every answer in the documented schema with its documented status and
content type, every error OpenAI-shaped, and schema-violating requests refused with a 4xx.

`positive_data_acceptance` is left out on purpose: whether a schema-valid request can be served depends on the
model (token ids beyond its vocabulary, prompts longer than its context), which no static schema can state.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import HTTP_TIMEOUT_S, RouterProcess, ShoalServer

HOOKS = Path(__file__).parent / "fuzz" / "bounded_work.py"
EXAMPLES = os.environ.get("SHOAL_FUZZ_EXAMPLES", "25")
SEED = os.environ.get("SHOAL_FUZZ_SEED", "1")


def fuzz(url: str, *extra: str) -> None:
    """Runs schemathesis against `url`/openapi.json; fails with its report when it finds anything.

    A run whose only problem is an error inside schemathesis itself (CPython 3.11's "AST constructor recursion
    depth mismatch" while hypothesis builds a strategy, which comes and goes) is run again, at most twice; any
    failure it reports about the API fails at once.
    """
    env = dict(os.environ, SCHEMATHESIS_HOOKS="bounded_work", PYTHONPATH=str(HOOKS.parent))
    argv = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--max-examples", EXAMPLES, "--seed", SEED, "--request-timeout", "60", "--max-response-time", "30",
            "--workers", "2", "--no-color", *extra]
    for attempt in range(3):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        report = result.stdout + result.stderr
        tool_error_only = ("Runtime Error" in report and "Failures:" not in report
                           and "Network Error" not in report and "AST constructor recursion" in report)
        if result.returncode == 0 or not tool_error_only:
            break
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


@pytest.fixture(scope="module")
def small_server(shoal_bin):
    # A short context keeps every fuzzed generation short (the hooks cap n and max_tokens too).
    server = ShoalServer(["--kv-cache-memory", "64MiB", "--max-model-len", "128"])
    server.wait_ready()
    yield server
    server.stop()


def test_the_document_names_every_route(small_server):
    document = requests.get(f"{small_server.url}/openapi.json", timeout=HTTP_TIMEOUT_S).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize",
                                      "/detokenize", "/health", "/metrics", "/version", "/dashboard",
                                      "/dashboard/data"}
    version = requests.get(f"{small_server.url}/version", timeout=HTTP_TIMEOUT_S).json()["version"]
    assert document["info"]["version"] == version


def test_a_wrong_method_is_a_405_that_says_which_is_allowed(small_server):
    answer = requests.delete(f"{small_server.url}/v1/completions", timeout=HTTP_TIMEOUT_S)
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_server_holds_to_its_schema_under_fuzzing(small_server):
    fuzz(small_server.url)


def test_the_router_holds_to_its_schema_under_fuzzing(small_server):
    admin = "fuzz-admin-key"
    with RouterProcess(small_server.url, args=("--admin-key", admin)) as router:
        document = requests.get(f"{router.url}/openapi.json", timeout=HTTP_TIMEOUT_S).json()
        assert "/admin/replicas" in document["paths"] and "/version" not in document["paths"]
        answer = requests.put(f"{router.url}/admin/replicas", timeout=HTTP_TIMEOUT_S)
        assert answer.status_code == 405 and answer.headers["Allow"] == "GET, POST, DELETE"
        # The proxied API first, with its replica in place, then the admin API on its own.
        fuzz(router.url, "--exclude-path-regex", "^/admin")
        fuzz(router.url, "--include-path-regex", "^/admin", "--header", f"Authorization: Bearer {admin}")
        # The fuzzer drives the admin API for real (it learns the replica's URL from the listing and may remove
        # or drain it); afterwards the router takes the replica back and routes through it as before.
        auth = {"Authorization": f"Bearer {admin}"}
        requests.delete(f"{router.url}/admin/replicas", params={"url": small_server.url}, headers=auth,
                        timeout=HTTP_TIMEOUT_S)
        added = requests.post(f"{router.url}/admin/replicas", json={"url": small_server.url}, headers=auth,
                              timeout=HTTP_TIMEOUT_S)
        assert added.status_code == 201, added.text
        replicas = requests.get(f"{router.url}/admin/replicas", headers=auth, timeout=HTTP_TIMEOUT_S).json()
        assert [replica["url"] for replica in replicas] == [small_server.url]
        answer = requests.post(f"{router.url}/v1/completions", json={"prompt": "Hello", "max_tokens": 3},
                               timeout=HTTP_TIMEOUT_S)
        assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 3, answer.text
