"""The architecture fixtures (Tests/Fixtures/architectures) through the CLI, the server and the router: greedy
continuations equal transformers' on every family and quantization, served ones reuse their prefix cache."""
import json
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import HTTP_TIMEOUT_S, SHOAL_BIN, RouterProcess, sse_events

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "architectures"
CASE_FILES = sorted(FIXTURES.glob("*/cases-*.json"))


def load(case_file: Path) -> tuple[Path, dict]:
    fixture = json.loads(case_file.read_text())
    return case_file.parent / fixture["gguf"], fixture


@pytest.mark.parametrize("case_file", CASE_FILES, ids=lambda p: f"{p.parent.name}-{p.stem[6:]}")
def test_generate_reproduces_the_reference_greedy_continuation(case_file):
    model, fixture = load(case_file)
    for case in fixture["cases"]:
        result = subprocess.run(
            [str(SHOAL_BIN), "generate", "--model", str(model), "--json", "--precision", "exact", "--ignore-eos", "--temperature", "0",
             "--prompt-ids", ",".join(map(str, case["prompt_ids"])), "--max-tokens", str(len(case["greedy_ids"]))],
            capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        ids = [token["id"] for token in json.loads(result.stdout)["tokens"]]
        assert ids == case["greedy_ids"], f"{case_file.parent.name} {case['name']}"


@pytest.mark.parametrize("family", ["qwen3moe", "gemma2", "phi3"])
def test_served_and_routed_greedy_matches_and_prefixes_are_cached(start_server, family):
    model, fixture = load(FIXTURES / family / "cases-Q4_K_M.json")
    case = max(fixture["cases"], key=lambda c: len(c["prompt_ids"]))
    server = start_server("--precision", "exact", model=model, served_name=family)
    body = {"model": family, "prompt": case["prompt_ids"], "max_tokens": len(case["greedy_ids"]), "temperature": 0,
            "ignore_eos": True, "return_token_ids": True}
    first = server.post("/v1/completions", body)
    assert first.status_code == 200, first.text
    assert first.json()["choices"][0]["token_ids"] == case["greedy_ids"]
    again = server.post("/v1/completions", body).json()
    assert again["choices"][0]["token_ids"] == case["greedy_ids"]
    # The 40-token prompt fills two 16-token blocks that the second request finds in the prefix cache.
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] >= 32, again["usage"]

    with RouterProcess(server.url) as router:
        streamed = requests.post(f"{router.url}/v1/completions", json={**body, "stream": True}, stream=True,
                                 timeout=HTTP_TIMEOUT_S)
        assert streamed.status_code == 200
        ids = []
        for data in sse_events(streamed.iter_lines()):
            if data == "[DONE]":
                break
            for choice in json.loads(data)["choices"]:
                ids += choice.get("token_ids") or []
        assert ids == case["greedy_ids"]
        # The family's chat template renders through the router too.
        chat = requests.post(f"{router.url}/v1/chat/completions", timeout=HTTP_TIMEOUT_S, json={
            "model": family, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 4})
        assert chat.status_code == 200, chat.text
        assert chat.json()["usage"]["completion_tokens"] >= 1
