"""The Kubernetes manifests in deploy/kubernetes, checked without a cluster: schemas (kubernetes-validate, strict),
yamllint, cross-references (selectors, the HPA's target, the InferencePool's pods), and the containers' own
arguments run for real (the serve and router pods' commands start, answer their probes, and drain on SIGTERM
within the grace period)."""
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import SHOAL_BIN, poll_until

MANIFESTS = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
BUILTIN_KINDS = {"Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "ConfigMap", "Secret"}


def documents() -> list[tuple[Path, dict]]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def by_kind(kind: str) -> list[dict]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def pod_templates() -> list[dict]:
    return [doc["spec"]["template"] for doc in by_kind("Deployment") + by_kind("StatefulSet")]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_builtin_kinds_validate_strictly_against_the_kubernetes_schemas():
    for path, doc in documents():
        if doc["kind"] not in BUILTIN_KINDS:
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as one:
            yaml.safe_dump(doc, one)
            one.flush()
            result = subprocess.run(["kubernetes-validate", "--strict", "--quiet", one.name], capture_output=True,
                                    text=True, check=False)
        assert result.returncode == 0, f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {result.stdout}{result.stderr}"


def test_yamllint_passes():
    config = "{extends: default, rules: {line-length: {max: 120}, document-start: disable, braces: {max-spaces-inside: 1}}}"
    result = subprocess.run(["yamllint", "-d", config, str(MANIFESTS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_selectors_target_and_pool_refer_to_what_exists():
    templates = pod_templates()
    for service in by_kind("Service"):
        selector = service["spec"]["selector"]
        assert any(matches(selector, t["metadata"]["labels"]) for t in templates), service["metadata"]["name"]
    for kind in ("Deployment", "StatefulSet"):
        for workload in by_kind(kind):
            assert matches(workload["spec"]["selector"]["matchLabels"], workload["spec"]["template"]["metadata"]["labels"])
    for budget in by_kind("PodDisruptionBudget"):
        assert any(matches(budget["spec"]["selector"]["matchLabels"], t["metadata"]["labels"]) for t in templates)
    deployments = {d["metadata"]["name"] for d in by_kind("Deployment")}
    for hpa in by_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
        rules = by_kind("ConfigMap")[0]["data"]["config.yaml"]
        assert f'as: "{metric}"' in rules, "the adapter rule exposes the HPA's metric"
    pool = by_kind("InferencePool")[0]["spec"]
    assert any(matches(pool["selector"]["matchLabels"], t["metadata"]["labels"]) for t in templates)
    serve_ports = {p["containerPort"] for t in templates for c in t["spec"]["containers"] for p in c.get("ports", [])}
    assert all(port["number"] in serve_ports for port in pool["targetPorts"])
    assert pool["endpointPickerRef"]["name"] and pool["endpointPickerRef"]["port"]["number"]
    # The router follows the headless Service by its cluster DNS name.
    headless = {s["metadata"]["name"] for s in by_kind("Service") if s["spec"].get("clusterIP") == "None"}
    router_args = next(c["args"] for t in templates for c in t["spec"]["containers"] if c["args"][0] == "route")
    discover = router_args[router_args.index("--discover") + 1]
    assert discover.split("//")[1].split(".")[0] in headless


def container(name: str) -> tuple[dict, dict]:
    """The pod spec and the container of the Deployment `name`."""
    deployment = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == name)
    spec = deployment["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def test_every_flag_in_the_manifests_is_one_shoal_knows():
    for template in pod_templates():
        for c in template["spec"]["containers"] + template["spec"].get("initContainers", []):
            args = c.get("command", ["shoal"])[1:] + c.get("args", [])
            help_text = subprocess.run([str(SHOAL_BIN), args[0], "--help"], capture_output=True, text=True,
                                       check=True).stdout
            for flag in (a for a in args if a.startswith("--")):
                assert flag in help_text, f"{c['name']}: shoal {args[0]} has no {flag}"


def test_grace_period_covers_the_drain_and_cpu_requests_match_threads():
    spec, c = container("shoal-serve")
    args = c["args"]
    shutdown = float(args[args.index("--shutdown-timeout") + 1])
    pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > shutdown + pause
    assert float(c["resources"]["requests"]["cpu"]) == float(args[args.index("--threads") + 1])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"


def local(args: list[str], port_file: Path) -> list[str]:
    """The container's arguments on this machine: loopback, a kernel-picked port written to `port_file`."""
    out = list(args)
    out[out.index("--host") + 1] = "127.0.0.1"
    out[out.index("--port") + 1] = "0"
    return out + ["--port-file", str(port_file)]


@pytest.mark.parametrize("name", ["shoal-serve", "shoal-router"])
def test_the_containers_commands_start_answer_their_probes_and_drain_in_time(name, tmp_path):
    spec, c = container(name)
    port_file = tmp_path / "port"
    args = local(c["args"], port_file)
    if name == "shoal-serve":
        args[args.index("--kv-cache-memory") + 1] = "64MiB"
    env = dict(os.environ)
    env.pop("SHOAL_HOME", None)  # the model store of this machine, where the tests' models are
    process = subprocess.Popen([str(SHOAL_BIN), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        poll_until(lambda: port_file.exists() and port_file.read_text().strip(), 120, "the port file")
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        probe = c["readinessProbe"]["httpGet"]["path"]
        if name == "shoal-serve":
            poll_until(lambda: requests.get(url + probe, timeout=5).status_code == 200, 120, f"{probe} to answer 200")
        else:
            # The cluster's DNS name does not resolve here: the router runs with no replica, so it is alive (its
            # liveness probe is the port) but not ready.
            # (A 503 response is falsy: poll for the status code.)
            poll_until(lambda: requests.get(url + probe, timeout=5).status_code, 60, f"{probe} to answer")
            answer = requests.get(url + probe, timeout=5)
            assert answer.status_code == 503 and answer.json()["status"] == "no_healthy_replica"
            assert c["livenessProbe"]["tcpSocket"]["port"] == "http"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=spec["terminationGracePeriodSeconds"])
        assert process.returncode == 0
        assert time.monotonic() - started < spec["terminationGracePeriodSeconds"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
