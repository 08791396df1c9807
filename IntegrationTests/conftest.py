"""Fixtures for the end-to-end tests: real `shoal serve` processes on 127.0.0.1.

Environment:
  SHOAL_BIN             the shoal binary (default /work/main/.build/release/shoal)
  SHOAL_TEST_MODEL_DIR  directory holding SmolLM2-135M-Instruct.Q4_1.gguf (default ~/.cache/shoal/models)
  SHOAL_REQUIRE_MODELS  when 1, a missing binary or model fails the suite instead of skipping it

Synchronisation is by polling with bounded deadlines (/health for readiness, /metrics for engine
state), never by sleeping for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

SHOAL_BIN = Path(os.environ.get("SHOAL_BIN", "/work/main/.build/release/shoal"))
MODEL_DIR = Path(os.environ.get("SHOAL_TEST_MODEL_DIR", str(Path.home() / ".cache/shoal/models"))).expanduser()
MODEL_FILE = MODEL_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"

READY_DEADLINE_S = 60.0
HTTP_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.05


def _require_inputs() -> None:
    missing = [str(p) for p in (SHOAL_BIN, MODEL_FILE) if not p.exists()]
    if not missing:
        return
    message = "missing for the integration tests: " + ", ".join(missing)
    if os.environ.get("SHOAL_REQUIRE_MODELS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def poll_until(predicate: Callable[[], object], deadline_s: float, what: str) -> object:
    """Calls `predicate` until it returns something truthy, failing after `deadline_s` seconds."""
    end = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, ValueError) as error:
            last_error = error
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what} (last error: {last_error})")
        time.sleep(POLL_INTERVAL_S)


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Parses Prometheus text exposition into {(name, frozenset(labels)): value}."""
    samples: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        assert match, f"unparseable metrics line: {line!r}"
        name, labels, value = match.groups()
        label_set = frozenset(_LABEL.findall(labels or ""))
        samples[(name, label_set)] = float(value)
    return samples


def metric_sum(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """Sum of all samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


class ShoalServer:
    """One `shoal serve` child process; stderr goes to a temp file (shown when startup fails).

    It binds a port of the kernel's choosing (`--port 0`) and reports it in its `--port-file`: `port` and `url`
    are set by `wait_ready`."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, model: Path | None = None,
                 served_name: str | None = None) -> None:
        self.port: int | None = None
        self.url = ""
        self.port_file = Path(tempfile.mkdtemp(prefix="shoal-serve-")) / "port"
        self.log = tempfile.NamedTemporaryFile(prefix="shoal-serve-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        full_env.pop("SHOAL_API_KEY", None)
        full_env.update(env or {})
        self.argv = [str(SHOAL_BIN), "serve", "--model", str(model or MODEL_FILE), "--served-model-name",
                     served_name or MODEL_NAME, "--host", "127.0.0.1",
                     "--port", "0", "--port-file", str(self.port_file), *args]
        self.process = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=full_env)

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, headers: dict[str, str] | None = None) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"shoal serve exited with {self.process.returncode}:\n{self.log_text()}")
            if self.port is None:
                if not self.port_file.exists():
                    return False
                self.port = int(self.port_file.read_text())
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                return requests.get(f"{self.url}/health", headers=headers, timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        try:
            poll_until(ready, READY_DEADLINE_S, "the port file, then /health to answer 200")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- server log ---\n{self.log_text()[-4000:]}") from None

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        response = requests.get(f"{self.url}/metrics", timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        return parse_metrics(response.text)

    def post(self, path: str, body: dict, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return requests.post(f"{self.url}{path}", json=body, **kwargs)

    def stop(self) -> None:
        """Kills the process (SIGKILL if SIGTERM is not enough) and removes its log and port file."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        try:
            os.unlink(self.log.name)
        except FileNotFoundError:
            pass
        shutil.rmtree(self.port_file.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def model_name() -> str:
    return MODEL_NAME


@pytest.fixture(scope="session")
def shoal_bin() -> Path:
    _require_inputs()
    return SHOAL_BIN


@pytest.fixture(scope="session")
def model_file() -> Path:
    _require_inputs()
    return MODEL_FILE


@pytest.fixture
def start_server(shoal_bin: Path) -> Iterator[Callable[..., ShoalServer]]:
    """Factory for dedicated servers: `start_server(*args, env=..., ready_headers=...)`; all killed at teardown."""
    servers: list[ShoalServer] = []

    def start(*args: str, env: dict[str, str] | None = None, ready_headers: dict[str, str] | None = None,
              model: Path | None = None, served_name: str | None = None) -> ShoalServer:
        server = ShoalServer(["--kv-cache-memory", "64MiB", *args], env=env, model=model, served_name=served_name)
        servers.append(server)
        server.wait_ready(headers=ready_headers)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(shoal_bin: Path) -> Iterator[ShoalServer]:
    """The default server shared by one test module."""
    instance = ShoalServer(["--kv-cache-memory", "256MiB"])
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()


def sse_events(lines: Iterator[bytes | str]) -> Iterator[str]:
    """Yields the `data:` payloads of an SSE stream given its lines (blank lines separate events)."""
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        if line.startswith("data: "):
            yield line[len("data: "):]


def error_body(response: requests.Response) -> dict:
    """Asserts the OpenAI error shape and returns its `error` object."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    for key in ("message", "type", "param", "code"):
        assert key in error, f"error JSON lacks {key!r}: {body}"
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["type"], str) and error["type"], body
    return error


def generate_json(shoal_bin: Path, model_file: Path, *args: str, precision: str = "fast") -> dict:
    """Runs `shoal generate --json` and returns its parsed output. `precision` defaults to `shoal serve`'s default
    (fast), so that greedy output can be compared token for token with a default server."""
    result = subprocess.run([str(shoal_bin), "generate", "--model", str(model_file), "--json", "--precision", precision, *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class BackgroundStream:
    """A streamed completion read on a thread of its own: its `data:` payloads in order, `first_chunk` set when
    the first arrives (or when the request failed, with the error in `failures`)."""

    def __init__(self, url: str, body: dict) -> None:
        self.events: list[str] = []
        self.failures: list[BaseException] = []
        self.first_chunk = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(url, body))
        self.thread.start()

    def _read(self, url: str, body: dict) -> None:
        try:
            with requests.post(f"{url}/v1/completions", json=body, stream=True, timeout=HTTP_TIMEOUT_S) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith(b"data: "):
                        self.events.append(line[len(b"data: "):].decode())
                        self.first_chunk.set()
        except BaseException as error:  # noqa: BLE001 - reported by the test's thread
            self.failures.append(error)
            self.first_chunk.set()

    def wait_for_first_chunk(self) -> None:
        assert self.first_chunk.wait(timeout=HTTP_TIMEOUT_S), "no first chunk"
        assert not self.failures, self.failures

    def join(self) -> None:
        self.thread.join(timeout=HTTP_TIMEOUT_S)


class RouterProcess:
    """`shoal route` in front of the given replica URLs, on a free port (use as a context manager)."""

    def __init__(self, *replicas: str, args: tuple[str, ...] = ()) -> None:
        self.port_file = Path(tempfile.mkdtemp(prefix="shoal-route-")) / "port"
        self.log_path = self.port_file.parent / "router.log"
        argv = [str(SHOAL_BIN), "route", "--host", "127.0.0.1", "--port", "0", "--port-file", str(self.port_file), *args]
        for replica in replicas:
            argv += ["--replica", replica]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.url = ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "RouterProcess":
        poll_until(lambda: self.port_file.exists() and self.port_file.read_text().strip(), READY_DEADLINE_S,
                   "the router's port file")
        self.url = f"http://127.0.0.1:{self.port_file.read_text().strip()}"
        poll_until(lambda: requests.get(f"{self.url}/v1/models", timeout=5).json()["data"], READY_DEADLINE_S,
                   "the router to admit its replicas")
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.port_file.parent, ignore_errors=True)
