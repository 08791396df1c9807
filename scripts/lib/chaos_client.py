#!/usr/bin/env python3
"""Load client and checker for scripts/chaos-test (Python standard library only).

  run URL OUT [--requests N] [--concurrency C] [--progress FILE] [--timeout S]
      Sends N deterministic streaming greedy requests (completions, every fifth a chat) at concurrency C and
      writes one record per request to OUT (JSON): text, token ids, finish reason, SSE framing problems,
      timings. FILE holds the number of finished requests while it runs.
  compare REFERENCE RUN [--max-gap S] [--router-log LOG] [--label NAME]
      Checks RUN against REFERENCE (the same requests straight to one replica): every request succeeded, the
      SSE framing was right, text / finish reason / token ids / usage are identical, and no stream was silent
      longer than S seconds. Prints a summary; exit status 1 on any violation.
  metrics URL OUT
      Saves the router's Prometheus samples as JSON ({"name{labels}": value}).
  value FILE NAME [LABEL=VALUE ...] [--minus BEFORE]
      Prints the sum of the samples of series NAME whose labels include the given ones (from a `metrics`
      file), less the same sum in BEFORE.
  resume-check URL REFERENCE [--requests N] [--splits K]
      Diagnostic for the engine: resubmits prompt ids + the first k generated ids of reference requests as a
      token-id prompt (what a migration does) and reports where the continuation differs from the reference.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

SUBJECTS = ["The old fisherman", "A curious child", "My neighbour", "The tired engineer", "A small robot",
            "The village baker", "Our teacher", "A lonely whale", "The night guard", "A young painter"]
VERBS = ["found", "repaired", "painted", "lost", "sold", "described", "carried", "remembered", "opened",
         "followed"]
OBJECTS = ["a silver key", "the broken clock", "an empty boat", "a map of the river", "the red bicycle",
           "a letter from home", "the garden gate", "a jar of honey", "the last train ticket", "a box of old photos"]
TAILS = ["before sunrise", "in the rain", "near the harbour", "after the storm", "on a quiet Sunday",
         "at the edge of the forest", "during the festival", "under the bridge", "in the library", "by the sea"]


def make_requests(count):
    """Deterministic, distinct requests: (path, body, wants_ids, wants_usage)."""
    requests = []
    for i in range(count):
        sentence = "{} {} {} {}.".format(SUBJECTS[i % 10], VERBS[(i // 10) % 10], OBJECTS[(i * 3 + i // 10) % 10],
                                          TAILS[(i * 7 + i // 100) % 10])
        max_tokens = 32 + (i * 7) % 17
        wants_ids = i % 4 != 3
        wants_usage = i % 3 == 0
        body = {"model": "smollm2-135m-instruct", "stream": True, "temperature": 0, "max_tokens": max_tokens}
        if i % 5 == 4:
            path = "/v1/chat/completions"
            body["messages"] = [{"role": "user", "content": "Continue this story in two sentences: " + sentence}]
        else:
            path = "/v1/completions"
            body["prompt"] = "Story: " + sentence + " Then"
        if wants_ids:
            body["return_token_ids"] = True
        if wants_usage:
            body["stream_options"] = {"include_usage": True}
        requests.append((path, body, wants_ids, wants_usage))
    return requests


def stream_request(url, path, body, timeout, request_id=None):
    """Sends one streaming request and checks its SSE framing. Returns a record (dict)."""
    parsed = urllib.parse.urlsplit(url)
    record = {"ok": False, "error": None, "problems": [], "text": "", "finish_reason": None, "token_ids": None,
              "prompt_token_ids": None, "usage": None, "ttft": None, "duration": None, "max_gap": 0.0, "events": 0}
    started = time.monotonic()
    last = started
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        connection.request("POST", path, json.dumps(body), headers)
        response = connection.getresponse()
        if response.status != 200:
            record["error"] = "status {}: {}".format(response.status, response.read()[:300].decode(errors="replace"))
            return record
        if not response.getheader("Content-Type", "").startswith("text/event-stream"):
            record["problems"].append("content-type " + response.getheader("Content-Type", ""))
        ids, finish_reasons, usages, token_ids = set(), [], [], []
        saw_token_ids, done, after_done, data_lines = False, False, 0, []
        kind = "chat.completion.chunk" if "messages" in body else "text_completion"

        def handle(data):
            nonlocal done, after_done, saw_token_ids, last
            now = time.monotonic()
            record["max_gap"] = max(record["max_gap"], now - last)
            last = now
            record["events"] += 1
            if done:
                after_done += 1
                return
            if data == "[DONE]":
                done = True
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                record["problems"].append("not JSON: " + data[:100])
                return
            if "error" in chunk:
                record["error"] = "in-band error: " + json.dumps(chunk["error"])[:300]
                return
            ids.add(chunk.get("id"))
            if chunk.get("object") != kind:
                record["problems"].append("object " + str(chunk.get("object")))
            if chunk.get("usage"):
                usages.append(chunk["usage"])
            if "prompt_token_ids" in chunk and chunk["prompt_token_ids"] is not None:
                record["prompt_token_ids"] = chunk["prompt_token_ids"]
            for choice in chunk.get("choices") or []:
                piece = choice.get("text") if kind == "text_completion" else (choice.get("delta") or {}).get("content")
                if piece:
                    if record["ttft"] is None:
                        record["ttft"] = now - started
                    record["text"] += piece
                if choice.get("prompt_token_ids") is not None:
                    record["prompt_token_ids"] = choice["prompt_token_ids"]
                if "token_ids" in choice and choice["token_ids"] is not None:
                    saw_token_ids = True
                    token_ids.extend(choice["token_ids"])
                if choice.get("finish_reason"):
                    finish_reasons.append(choice["finish_reason"])

        while True:
            line = response.readline()
            if not line:
                break
            line = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if line == "":
                if data_lines:
                    handle("\n".join(data_lines))
                    data_lines = []
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip(" "))
            elif not line.startswith(":"):
                record["problems"].append("unexpected line: " + line[:100])
        if data_lines:
            record["problems"].append("last event not terminated by a blank line")
            handle("\n".join(data_lines))
        record["duration"] = time.monotonic() - started
        if record["error"]:
            return record
        if not done:
            record["error"] = "stream ended without data: [DONE]"
            return record
        if after_done:
            record["problems"].append("{} events after [DONE]".format(after_done))
        if len(ids) != 1:
            record["problems"].append("{} distinct ids".format(len(ids)))
        if len(finish_reasons) != 1:
            record["problems"].append("finish_reason {} times".format(len(finish_reasons)))
        record["finish_reason"] = finish_reasons[-1] if finish_reasons else None
        wants_ids = bool(body.get("return_token_ids"))
        if wants_ids:
            record["token_ids"] = token_ids
            if record["prompt_token_ids"] is None:
                record["problems"].append("no prompt_token_ids")
        elif saw_token_ids or record["prompt_token_ids"] is not None:
            record["problems"].append("token ids the client did not ask for")
        if body.get("stream_options", {}).get("include_usage"):
            if len(usages) != 1:
                record["problems"].append("usage {} times".format(len(usages)))
            else:
                record["usage"] = usages[0]
                # The stop token that ended a choice is among its ids, so they always match usage.
                if wants_ids and usages[0].get("completion_tokens") != len(token_ids):
                    record["problems"].append("usage completion_tokens {} but {} token ids".format(
                        usages[0].get("completion_tokens"), len(token_ids)))
        elif usages:
            record["problems"].append("usage the client did not ask for")
        record["ok"] = True
        return record
    except Exception as error:  # noqa: BLE001 - any transport failure is a failed request
        record["error"] = "{}: {}".format(type(error).__name__, error)
        record["duration"] = time.monotonic() - started
        return record
    finally:
        connection.close()


def command_run(args):
    requests = make_requests(args.requests)
    records = [None] * len(requests)
    lock = threading.Lock()
    state = {"next": 0, "finished": 0}
    started = time.monotonic()

    def write_progress():
        if args.progress:
            temporary = args.progress + ".tmp"
            with open(temporary, "w") as handle:
                handle.write(str(state["finished"]))
            os.replace(temporary, args.progress)

    def worker():
        while True:
            with lock:
                index = state["next"]
                if index >= len(requests):
                    return
                state["next"] += 1
            path, body, _, _ = requests[index]
            began = time.monotonic() - started
            record = stream_request(args.url, path, body, args.timeout, "{}-{}".format(args.label, index))
            record["index"] = index
            record["path"] = path
            record["started"] = began
            with lock:
                records[index] = record
                state["finished"] += 1
                write_progress()

    write_progress()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    with open(args.out, "w") as handle:
        json.dump({"url": args.url, "elapsed": elapsed, "records": records}, handle)
    failed = [r for r in records if not r["ok"]]
    print("  {} requests in {:.1f} s ({:.2f} req/s), {} failed".format(
        len(records), elapsed, len(records) / elapsed, len(failed)))
    for record in failed[:10]:
        print("    request {}: {}".format(record["index"], record["error"]))
    return 0


def first_difference(a, b):
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return index
    return min(len(a), len(b)) if len(a) != len(b) else None


def usage_counts(usage):
    """The token counts of a usage object (cache hits depend on what ran before, so they are left out)."""
    if not usage:
        return None
    return {key: usage.get(key) for key in ("prompt_tokens", "completion_tokens", "total_tokens")}


def migrations_by_request(log_path, label):
    """Request index -> generated-token counts at which its stream migrated (from the router's log)."""
    found = {}
    if not log_path or not os.path.exists(log_path):
        return found
    prefix = "request={}-".format(label)
    with open(log_path, errors="replace") as handle:
        for line in handle:
            if "stream migrated" not in line or prefix not in line:
                continue
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            try:
                index = int(fields["request"].rsplit("-", 1)[1])
                found.setdefault(index, []).append(int(fields.get("generated", "-1")))
            except (KeyError, ValueError):
                continue
    return found


def command_compare(args):
    with open(args.reference) as handle:
        reference = {r["index"]: r for r in json.load(handle)["records"]}
    with open(args.run) as handle:
        run = json.load(handle)
    records = run["records"]
    migrated = migrations_by_request(args.router_log, args.label)
    failures, framing, mismatches, slow = [], [], [], []
    for record in records:
        index = record["index"]
        expected = reference.get(index)
        if not record["ok"]:
            failures.append("request {}: {}".format(index, record["error"]))
            continue
        if record["problems"]:
            framing.append("request {}: {}".format(index, "; ".join(record["problems"])))
        if args.max_gap and record["max_gap"] > args.max_gap:
            slow.append("request {}: silent for {:.1f} s (limit {:.1f})".format(index, record["max_gap"], args.max_gap))
        if expected is None or not expected["ok"]:
            failures.append("request {}: no reference".format(index))
            continue
        differences = []
        if record["text"] != expected["text"]:
            differences.append("text")
        if record["finish_reason"] != expected["finish_reason"]:
            differences.append("finish_reason {} vs {}".format(record["finish_reason"], expected["finish_reason"]))
        if record["token_ids"] is not None and expected["token_ids"] is not None \
                and record["token_ids"] != expected["token_ids"]:
            differences.append("token ids from position {}".format(
                first_difference(record["token_ids"], expected["token_ids"])))
        if usage_counts(record["usage"]) != usage_counts(expected["usage"]):
            differences.append("usage {} vs {}".format(record["usage"], expected["usage"]))
        if differences:
            where = migrated.get(index)
            note = " (migrated at generated={})".format(where) if where else " (not migrated per the router log)"
            mismatches.append("request {}: {}{}\n      expected {!r}\n      got      {!r}".format(
                index, ", ".join(differences), note, expected["text"], record["text"]))
    durations = sorted(r["duration"] or 0 for r in records)
    gaps = sorted(r["max_gap"] for r in records)
    print("  [{}] requests {}, failed {}, framing problems {}, mismatches {}, over the silence limit {}".format(
        args.label, len(records), len(failures), len(framing), len(mismatches), len(slow)))
    print("  [{}] wall {:.1f} s, request duration p50 {:.2f} s max {:.2f} s, longest silence {:.2f} s, "
          "requests migrated (router log) {}".format(args.label, run["elapsed"], durations[len(durations) // 2],
                                                     durations[-1], gaps[-1], len(migrated)))
    for line in (failures + framing + mismatches + slow)[:20]:
        print("    " + line)
    return 1 if failures or framing or mismatches or slow else 0


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            samples[key] = float(value)
        except ValueError:
            continue
    return samples


def command_metrics(args):
    parsed = urllib.parse.urlsplit(args.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.request("GET", "/metrics")
    samples = parse_metrics(connection.getresponse().read().decode())
    with open(args.out, "w") as handle:
        json.dump(samples, handle, indent=0, sort_keys=True)
    return 0


def metric_sum(path, name, wanted):
    with open(path) as handle:
        samples = json.load(handle)
    total = 0.0
    for key, value in samples.items():
        series, _, rest = key.partition("{")
        if series != name:
            continue
        labels = {}
        for part in rest.rstrip("}").split('",'):
            if "=" in part:
                label, _, text = part.partition("=")
                labels[label.strip(",")] = text.strip('"')
        if all(labels.get(label) == text for label, text in wanted.items()):
            total += value
    return total


def command_value(args):
    wanted = dict(pair.split("=", 1) for pair in args.labels)
    total = metric_sum(args.file, args.name, wanted)
    if args.minus:
        total -= metric_sum(args.minus, args.name, wanted)
    print("{:g}".format(total))
    return 0


def command_resume_check(args):
    with open(args.reference) as handle:
        reference = [r for r in json.load(handle)["records"]
                     if r["ok"] and r["token_ids"] and r["prompt_token_ids"] and r["path"] == "/v1/completions"]
    reference = reference[:args.requests]
    tried, differing, positions = 0, 0, []
    for record in reference:
        generated = record["token_ids"]
        for split in range(1, args.splits + 1):
            k = len(generated) * split // (args.splits + 1)
            if k <= 0 or k >= len(generated):
                continue
            body = {"model": "smollm2-135m-instruct", "stream": True, "temperature": 0,
                    "prompt": record["prompt_token_ids"] + generated[:k], "max_tokens": len(generated) - k,
                    "return_token_ids": True}
            answer = stream_request(args.url, "/v1/completions", body, 60)
            tried += 1
            if not answer["ok"]:
                print("  request {} split {}: {}".format(record["index"], k, answer["error"]))
                continue
            tail = generated[k:]
            got = answer["token_ids"] or []
            position = first_difference(got, tail)
            if position is not None:
                differing += 1
                positions.append((record["index"], k, position))
                print("  request {}: resumed after {} of {} tokens, differs {} tokens later: expected id {} got {}"
                      .format(record["index"], k, len(generated), position,
                              tail[position] if position < len(tail) else None,
                              got[position] if position < len(got) else None))
    print("resume-check: {} resumptions, {} differ from the undisturbed run".format(tried, differing))
    return 1 if differing else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("url")
    run.add_argument("out")
    run.add_argument("--requests", type=int, default=200)
    run.add_argument("--concurrency", type=int, default=16)
    run.add_argument("--progress")
    run.add_argument("--timeout", type=float, default=60, help="socket timeout per read, seconds")
    run.add_argument("--label", default="chaos")
    compare = commands.add_parser("compare")
    compare.add_argument("reference")
    compare.add_argument("run")
    compare.add_argument("--max-gap", type=float, default=0)
    compare.add_argument("--router-log")
    compare.add_argument("--label", default="chaos")
    metrics = commands.add_parser("metrics")
    metrics.add_argument("url")
    metrics.add_argument("out")
    value = commands.add_parser("value")
    value.add_argument("file")
    value.add_argument("name")
    value.add_argument("labels", nargs="*")
    value.add_argument("--minus")
    resume = commands.add_parser("resume-check")
    resume.add_argument("url")
    resume.add_argument("reference")
    resume.add_argument("--requests", type=int, default=40)
    resume.add_argument("--splits", type=int, default=3)
    args = parser.parse_args()
    handler = {"run": command_run, "compare": command_compare, "metrics": command_metrics, "value": command_value,
               "resume-check": command_resume_check}[args.command]
    sys.exit(handler(args))


if __name__ == "__main__":
    main()
