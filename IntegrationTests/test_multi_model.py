"""Two models served by one process: SmolLM2 (Llama, chat) and Gemma 3 (base model, no chat template)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from conftest import MODEL_DIR, error_body, generate_json

GEMMA_FILE = MODEL_DIR / "gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="module")
def gemma_file() -> Path:
    if not GEMMA_FILE.exists():
        message = f"missing for the multi-model tests: {GEMMA_FILE}"
        if os.environ.get("SHOAL_REQUIRE_MODELS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return GEMMA_FILE


def test_two_models_in_one_server(start_server, shoal_bin, model_file, gemma_file):
    # The fixture already passes the SmolLM2 file and name; the second --model adds Gemma under its own name.
    server = start_server("--model", str(gemma_file), "--served-model-name", "gemma3-270m")
    listed = requests.get(f"{server.url}/v1/models", timeout=30).json()
    assert sorted(m["id"] for m in listed["data"]) == ["gemma3-270m", "smollm2-135m-instruct"]

    # Each model answers its own requests, greedily exactly as `shoal generate` does with that file.
    for name, path in (("gemma3-270m", gemma_file), ("smollm2-135m-instruct", model_file)):
        response = server.post("/v1/completions", {
            "model": name, "prompt": "The capital of France is", "max_tokens": 12, "temperature": 0,
            "ignore_eos": True, "return_token_ids": True})
        assert response.status_code == 200, response.text
        ids = response.json()["choices"][0]["token_ids"]
        expected = generate_json(shoal_bin, path, "--prompt", "The capital of France is", "--max-tokens", "12",
                                 "--temperature", "0", "--ignore-eos")
        assert ids == [t["id"] for t in expected["tokens"]], name

    # Gemma 3 270M is a base model without a chat template: a chat request is a clear 400.
    response = server.post("/v1/chat/completions", {
        "model": "gemma3-270m", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400
    assert "chat template" in error_body(response)["message"]
