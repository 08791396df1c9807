"""`shoal bench serve` against a real `shoal serve`: a ShareGPT run at a request rate saved as vLLM's result JSON,
and a concurrency sweep drawn as PNG plots by scripts/plot-bench (also with two labelled sweeps side by side, as
scripts/serve-vs-llama-server draws Shoal against llama-server). Tiny outputs: it takes seconds."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import SHOAL_BIN

ROOT = Path(__file__).resolve().parent.parent
PLOT_BENCH = ROOT / "scripts" / "plot-bench"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CONVERSATIONS = [
    ("Write one sentence about the sea and the ships on it.", "The sea was calm and the ships sailed home at dusk."),
    ("Name three colours that you can see in a rainbow.", "Red, orange and yellow are three of them."),
    ("What do bees make from the nectar of flowers?", "Bees make honey from the nectar they collect."),
    ("Describe a quiet morning in a small village.", "Smoke rose from chimneys while the village slept on."),
]


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SHOAL_PLOT_BENCH=str(PLOT_BENCH))
    result = subprocess.run([str(SHOAL_BIN), "bench", "serve", *args], capture_output=True, text=True, timeout=120,
                            cwd=cwd, env=env, check=False)
    assert result.returncode == 0, f"bench serve failed:\n{result.stdout}\n{result.stderr}"
    return result


def token_count(server, model_name: str, text: str) -> int:
    answer = server.post("/tokenize", {"model": model_name, "prompt": text, "add_special_tokens": False})
    answer.raise_for_status()
    return answer.json()["count"]


def test_sharegpt_at_a_request_rate_saves_a_consistent_vllm_result(start_server, model_name, tmp_path):
    server = start_server()
    entries = [{"id": str(i), "conversations": [{"from": "human", "value": p}, {"from": "gpt", "value": c}]}
               for i, (p, c) in enumerate(CONVERSATIONS)]
    entries.insert(1, {"id": "no-reply", "conversations": [{"from": "human", "value": "Is anyone there to answer this?"}]})
    dataset = tmp_path / "sharegpt.jsonl"
    dataset.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    requests, rate = 6, 20.0

    bench("--url", server.url, "--dataset-name", "sharegpt", "--dataset-path", str(dataset), "--requests", str(requests),
          "--request-rate", str(rate), "--ignore-eos", "--seed", "3", "--goodput", "ttft:60000", "e2el:60000",
          "--save-result", "--result-dir", str(tmp_path / "results"), cwd=tmp_path)
    saved = list((tmp_path / "results").glob("*.json"))
    assert [p.name for p in saved] == [f"shoal-20.0qps-{model_name}-{json.loads(saved[0].read_text())['date']}.json"]
    result = json.loads(saved[0].read_text())

    assert result["completed"] == requests == result["num_prompts"], result["errors"]
    assert result["failed"] == 0 and result["errors"] == [""] * requests
    assert result["dataset_name"] == "sharegpt" and result["request_rate"] == rate and result["burstiness"] == 1
    assert result["max_concurrency"] is None and result["model_id"] == model_name
    # Without --max-tokens each request asks for its reply's length (the server's /tokenize); ignore_eos makes the
    # server's usage report exactly that many, and the totals add up the per-request lengths.
    replies = {token_count(server, model_name, c) for _, c in CONVERSATIONS}
    assert set(result["output_lens"]) <= replies, (result["output_lens"], replies)
    assert result["total_output_tokens"] == sum(result["output_lens"])
    assert result["total_input_tokens"] == sum(result["input_lens"]) and min(result["input_lens"]) > 0
    for key in ("ttfts", "itls", "latencies", "start_times", "queue_times", "input_lens", "output_lens"):
        assert len(result[key]) == requests, key
    for ttft, itls, latency, output_len in zip(result["ttfts"], result["itls"], result["latencies"], result["output_lens"]):
        assert 0 < ttft <= latency
        assert len(itls) <= output_len - 1 and ttft + sum(itls) <= latency + 1e-6
    # Arrivals: never earlier than the one before, the last due at requests / rate (vLLM's scaling), none queued.
    starts = result["start_times"]
    assert starts == sorted(starts) and abs(starts[-1] - requests / rate) < 1e-6
    assert result["queue_times"] == [0] * requests and result["duration"] >= requests / rate
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for field in ("mean", "median", "std", "p50", "p90", "p99"):
            assert f"{field}_{metric}_ms" in result
    assert 0 < result["mean_tpot_ms"] <= result["mean_e2el_ms"] and result["p99_tpot_ms"] <= result["p99_e2el_ms"]
    assert result["median_ttft_ms"] <= result["median_e2el_ms"]
    assert abs(result["request_throughput"] - requests / result["duration"]) < 1e-9
    assert abs(result["output_throughput"] - result["total_output_tokens"] / result["duration"]) < 1e-6
    assert result["request_goodput"] == result["request_throughput"]


def test_max_concurrency_queues_arrivals_until_a_slot_frees(start_server, tmp_path):
    """At 1000 req/s with one slot, each request is due when the one before it ended (vLLM's --max-concurrency):
    it waited in the client's queue, and its latencies run from then."""
    server = start_server()
    bench("--url", server.url, "--request-rate", "1000", "--max-concurrency", "1", "--requests", "4", "--prompt-tokens",
          "8", "--max-tokens", "2", "--ignore-eos", "--save-result", "--result-dir", str(tmp_path), "--result-filename",
          "capped.json", cwd=tmp_path)
    result = json.loads((tmp_path / "capped.json").read_text())
    assert result["completed"] == 4 and result["max_concurrency"] == 1 and result["request_rate"] == 1000
    starts, latencies, queued = result["start_times"], result["latencies"], result["queue_times"]
    for i in range(1, 4):
        assert starts[i] >= starts[i - 1] + latencies[i - 1], (starts, latencies)
        assert queued[i] > 0, queued
    assert result["duration"] >= starts[-1] + latencies[-1]


def test_a_concurrency_sweep_draws_png_plots(start_server, tmp_path):
    server = start_server()
    plots = tmp_path / "plots"
    run = bench("--url", server.url, "--sweep", "concurrency=1,2", "--requests", "4", "--prompt-tokens", "8",
                "--max-tokens", "3", "--ignore-eos", "--result-dir", str(tmp_path), "--result-filename", "sweep.json",
                "--plot-dir", str(plots), "--json", cwd=tmp_path)
    assert "plots not drawn" not in run.stderr, run.stderr
    report = json.loads(run.stdout)
    assert [r["concurrency"] for r in report["results"]] == [1, 2]
    assert [r["errors"] for r in report["results"]] == [0, 0]
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["sweep_parameter"] == "max_concurrency" and sweep["sweep_values"] == [1, 2]
    assert [r["max_concurrency"] for r in sweep["results"]] == [1, 2]
    assert all(r["completed"] == 4 and r["total_output_tokens"] == 12 for r in sweep["results"])
    for name in ("throughput.png", "ttft.png", "itl.png", "tpot.png", "summary.png"):
        data = (plots / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, (name, len(data))

    # Two labelled sweeps side by side, as scripts/serve-vs-llama-server draws them.
    other = json.loads((tmp_path / "sweep.json").read_text())
    other["label"] = "llama-server"
    for level in other["results"]:
        level["output_throughput"] *= 0.5
    (tmp_path / "other.json").write_text(json.dumps(other))
    both = tmp_path / "both"
    subprocess.run(["python3", str(PLOT_BENCH), "--out", str(both), "--title", "shoal vs llama-server",
                    f"{tmp_path / 'sweep.json'}=shoal", str(tmp_path / "other.json")], check=True, timeout=120)
    summary = (both / "summary.png").read_bytes()
    assert summary.startswith(PNG_SIGNATURE) and len(summary) > len((plots / "summary.png").read_bytes()) // 2


def test_plot_bench_says_what_it_needs(tmp_path):
    """A file that is not a sweep is refused with a message, not a traceback."""
    (tmp_path / "single.json").write_text(json.dumps({"completed": 1}))
    result = subprocess.run(["python3", str(PLOT_BENCH), "--out", str(tmp_path), str(tmp_path / "single.json")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "not a `bench serve --sweep` file" in result.stderr
