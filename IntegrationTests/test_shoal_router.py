"""`shoal-router`, the router built without the kernels' CPU flags, serves like `shoal route`."""
import subprocess
import tempfile
from pathlib import Path

import requests

from conftest import HTTP_TIMEOUT_S, READY_DEADLINE_S, SHOAL_BIN, poll_until


def test_the_standalone_router_routes_to_a_replica(server, model_name):
    binary = Path(SHOAL_BIN).parent / "shoal-router"
    assert binary.exists(), f"no {binary}: swift build -c release builds it"
    port_file = Path(tempfile.mkdtemp(prefix="shoal-router-")) / "port"
    process = subprocess.Popen([str(binary), "--replica", server.url, "--port", "0", "--port-file", str(port_file)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll_until(lambda: port_file.exists() and port_file.read_text().strip(), READY_DEADLINE_S, "the port file")
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        poll_until(lambda: requests.get(f"{url}/health", timeout=5).status_code == 200, READY_DEADLINE_S, "/health")
        body = {"model": model_name, "prompt": "The capital of France is", "max_tokens": 5, "temperature": 0}
        routed = requests.post(f"{url}/v1/completions", json=body, timeout=HTTP_TIMEOUT_S)
        direct = server.post("/v1/completions", body)
        assert routed.status_code == 200, routed.text
        assert routed.json()["choices"][0]["text"] == direct.json()["choices"][0]["text"]
    finally:
        process.terminate()
        process.wait(timeout=30)
