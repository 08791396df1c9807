"""A real Prometheus (Debian's) scrapes a `shoal serve` and a `shoal route`: every exposition parses, the
series dashboards and autoscalers read are there, and the HPA's query from deploy/kubernetes/autoscaling.yaml,
rendered the way prometheus-adapter renders it, evaluates to a number per pod.
"""
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
import yaml

from conftest import HTTP_TIMEOUT_S, READY_DEADLINE_S, RouterProcess, poll_until

AUTOSCALING = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes" / "autoscaling.yaml"
NAMESPACE, POD = "shoal", "shoal-serve-0"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def adapter_rule() -> dict:
    """The prometheus-adapter rule for `vllm:num_requests_waiting` from the shipped manifests."""
    for document in yaml.safe_load_all(AUTOSCALING.read_text()):
        if document and document.get("kind") == "ConfigMap":
            return yaml.safe_load(document["data"]["config.yaml"])["rules"][0]
    raise AssertionError("no prometheus-adapter ConfigMap in autoscaling.yaml")


class Prometheus:
    """`prometheus` scraping the given targets every second, with the pod labels Kubernetes discovery would add."""

    def __init__(self, server_url: str, router_url: str) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            message = "prometheus is not installed (apt-get install prometheus)"
            if os.environ.get("SHOAL_REQUIRE_CHAOS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        self.directory = Path(tempfile.mkdtemp(prefix="shoal-prometheus-"))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "shoal-serve", "static_configs": [{"targets": [server_url.removeprefix("http://")],
                                                                "labels": {"namespace": NAMESPACE, "pod": POD}}]},
                {"job_name": "shoal-router", "static_configs": [{"targets": [router_url.removeprefix("http://")],
                                                                 "labels": {"namespace": NAMESPACE, "pod": "shoal-router-0"}}]},
            ],
        }
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = open(self.directory / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [binary, f"--config.file={self.directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address={self.url.removeprefix('http://')}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, promql: str) -> list[dict]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=HTTP_TIMEOUT_S).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def targets(self) -> list[dict]:
        return requests.get(f"{self.url}/api/v1/targets", timeout=HTTP_TIMEOUT_S).json()["data"]["activeTargets"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def test_prometheus_scrapes_server_and_router_and_the_hpa_query_evaluates(server, model_name):
    with RouterProcess(server.url) as router:
        prometheus = Prometheus(server.url, router.url)
        try:
            def both_up():
                targets = prometheus.targets()
                errors = [t.get("lastError") for t in targets if t.get("lastError")]
                assert not errors, f"a scrape failed: {errors}"
                return len(targets) == 2 and all(t["health"] == "up" for t in targets)
            poll_until(both_up, READY_DEADLINE_S, "Prometheus to scrape the server and the router")
            # Every series exists before the first request (created at zero when the model loaded), so that rate()
            # sees the first requests' increase.
            for name in ("vllm:time_to_first_token_seconds_count", "vllm:e2e_request_latency_seconds_count",
                         'vllm:request_success_total{finished_reason="length"}'):
                assert [float(s["value"][1]) for s in prometheus.query(name)] == [0.0], name

            for _ in range(3):
                answer = requests.post(f"{router.url}/v1/completions", timeout=HTTP_TIMEOUT_S,
                                       json={"model": model_name, "prompt": "One, two,", "max_tokens": 4})
                assert answer.status_code == 200, answer.text

            # The HPA's custom metric: the adapter's metricsQuery with its template filled in for one pod.
            rule = adapter_rule()
            series = rule["seriesQuery"].split("{")[0]
            hpa_query = (rule["metricsQuery"].replace("<<.Series>>", series)
                         .replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod=~"{POD}"')
                         .replace("<<.GroupBy>>", "pod"))
            result = poll_until(lambda: prometheus.query(hpa_query), READY_DEADLINE_S, f"a result for {hpa_query}")
            assert [sample["metric"] for sample in result] == [{"pod": POD}]
            assert float(result[0]["value"][1]) >= 0
            # The adapter lists the series by its seriesQuery.
            assert prometheus.query(rule["seriesQuery"])

            # What the dashboards and the InferencePool's endpoint picker read, once the traffic is scraped.
            poll_until(lambda: any(float(s["value"][1]) >= 3 for s in prometheus.query(
                'sum(shoal_router_requests_total) by (replica)')), READY_DEADLINE_S, "the router's request count")
            poll_until(lambda: any(float(s["value"][1]) >= 12 for s in prometheus.query(
                "vllm:generation_tokens_total")), READY_DEADLINE_S, "the server's generated tokens")
            for name in ("vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:cache_config_info",
                         "vllm:request_queue_time_seconds_count", "vllm:request_prompt_tokens_bucket"):
                assert prometheus.query(name), f"{name} was not scraped"
            # TTFT p50 over the last minute, as a dashboard panel draws it (NaN until two scrapes bracket the traffic).
            ttft = "histogram_quantile(0.5, sum(rate(vllm:time_to_first_token_seconds_bucket[1m])) by (le))"
            poll_until(lambda: [s for s in prometheus.query(ttft) if float(s["value"][1]) > 0], READY_DEADLINE_S,
                       "a TTFT median")
        finally:
            prometheus.stop()
