#!/usr/bin/env python3
"""Client and checks for scripts/parallel-netns-test (Python standard library only).

  greedy URL OUT
      Sends the fixed prompts as greedy completions (temperature 0, max_tokens 16, ignore_eos, return_token_ids)
      one after another and writes [{prompt, status, text, token_ids}] to OUT. Exit status 1 when one fails.
  compare REFERENCE RUN [--label NAME]
      Every prompt's text and token ids in RUN equal REFERENCE's (ids and text only: tensor-parallel ranks add
      their partial sums in another order, so logprob digits may differ). Exit status 1 otherwise.
  stream URL OUT [--max-tokens N] [--progress FILE] [--timeout S]
      One streaming greedy completion; FILE holds the tokens received so far. Writes {outcome, tokens, error,
      status, ended} to OUT: outcome is "error-event" (an SSE event with an OpenAI error body), "closed" (the
      stream ended without [DONE]), "finished" (a normal end), "http-error", "timeout" or "exception".
  expect-error URL [--within S]
      One non-streaming completion that must fail: status >= 500 with an OpenAI error body
      ({"error": {"message": ...}}), within S seconds. Exit status 1 otherwise.
  stream-failed OUT --fault EPOCH [--within S]
      The stream written by `stream` ended with an error event or a closed stream (not a normal finish, not a
      timeout) at most S seconds after EPOCH (the time of the fault). Exit status 1 otherwise.
"""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village by the sea,",
]
MODEL = "smollm2"


def connection(url, timeout):
    parsed = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)


def post(url, body, timeout):
    """(status, parsed JSON body or None, raw text)."""
    conn = connection(url, timeout)
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read().decode(errors="replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return response.status, parsed, raw
    finally:
        conn.close()


def greedy_body(prompt, max_tokens=16):
    return {"model": MODEL, "prompt": prompt, "temperature": 0, "max_tokens": max_tokens, "ignore_eos": True,
            "return_token_ids": True}


def command_greedy(args):
    results, failed = [], 0
    for prompt in PROMPTS:
        status, body, raw = post(args.url, greedy_body(prompt), args.timeout)
        record = {"prompt": prompt, "status": status, "text": None, "token_ids": None}
        if status == 200 and body and body.get("choices"):
            choice = body["choices"][0]
            record["text"] = choice.get("text")
            record["token_ids"] = choice.get("token_ids")
        else:
            record["error"] = raw[:400]
            failed += 1
            print("greedy: {!r}: status {}: {}".format(prompt, status, raw[:300]), file=sys.stderr)
        results.append(record)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    return 1 if failed else 0


def command_compare(args):
    reference = json.load(open(args.reference))
    run = json.load(open(args.run))
    problems = []
    for ref, got in zip(reference, run):
        if got["status"] != 200:
            problems.append("{!r}: status {}".format(ref["prompt"], got["status"]))
        elif got["text"] != ref["text"] or got["token_ids"] != ref["token_ids"]:
            problems.append("{!r}: got {!r} {} expected {!r} {}".format(
                ref["prompt"], got["text"], got["token_ids"], ref["text"], ref["token_ids"]))
    if len(run) != len(reference):
        problems.append("{} results for {} prompts".format(len(run), len(reference)))
    for problem in problems:
        print("{}: differs from the reference: {}".format(args.label, problem), file=sys.stderr)
    return 1 if problems else 0


def command_stream(args):
    body = greedy_body("Write a long story about a lighthouse keeper and the storms he saw.", args.max_tokens)
    body["stream"] = True
    record = {"outcome": None, "tokens": 0, "error": None, "status": None, "ended": None}

    def progress():
        if args.progress:
            with open(args.progress + ".tmp", "w") as f:
                f.write(str(record["tokens"]))
            os.replace(args.progress + ".tmp", args.progress)

    conn = connection(args.url, args.timeout)
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        record["status"] = response.status
        if response.status != 200:
            record["outcome"] = "http-error"
            record["error"] = response.read()[:400].decode(errors="replace")
        else:
            done = False
            while True:
                line = response.readline()
                if not line:
                    break
                line = line.decode(errors="replace").rstrip("\r\n")
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                event = json.loads(data)
                if "error" in event:
                    record["outcome"] = "error-event"
                    record["error"] = event["error"].get("message") if isinstance(event["error"], dict) else str(event["error"])
                    continue
                for choice in event.get("choices", []):
                    record["tokens"] += len(choice.get("token_ids") or [])
                    if choice.get("finish_reason") and record["outcome"] is None:
                        record["outcome"] = "finished"
                        record["error"] = "finish_reason " + choice["finish_reason"]
                progress()
            if record["outcome"] is None:
                record["outcome"] = "finished" if done else "closed"
    except TimeoutError as error:  # socket.timeout is a TimeoutError
        record["outcome"] = "timeout"
        record["error"] = "{}: {}".format(type(error).__name__, error)
    except (OSError, http.client.HTTPException) as error:  # reset or cut short by the server
        record["outcome"] = "closed"
        record["error"] = "{}: {}".format(type(error).__name__, error)
    except Exception as error:  # noqa: BLE001 (reported, and counted as a failure)
        record["outcome"] = "exception"
        record["error"] = "{}: {}".format(type(error).__name__, error)
    finally:
        conn.close()
    record["ended"] = time.time()
    progress()
    with open(args.out, "w") as f:
        json.dump(record, f)
    return 0


def command_expect_error(args):
    started = time.monotonic()
    try:
        status, body, raw = post(args.url, greedy_body(PROMPTS[0]), args.within)
    except Exception as error:  # noqa: BLE001
        print("expect-error: no answer within {} s: {}: {}".format(args.within, type(error).__name__, error),
              file=sys.stderr)
        return 1
    took = time.monotonic() - started
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    print("new request: status {} after {:.1f} s: {}".format(status, took, (message or raw)[:200]))
    if status < 500 or not isinstance(message, str) or not message:
        print("expect-error: wanted status >= 500 with an OpenAI error body, got {}: {}".format(status, raw[:300]),
              file=sys.stderr)
        return 1
    if took > args.within:
        print("expect-error: the error took {:.1f} s (limit {} s)".format(took, args.within), file=sys.stderr)
        return 1
    return 0


def command_stream_failed(args):
    record = json.load(open(args.out))
    after = record["ended"] - args.fault
    print("stream in flight: {} after {} tokens, {:.1f} s after the fault: {}".format(
        record["outcome"], record["tokens"], after, (record["error"] or "")[:200]))
    if record["outcome"] not in ("error-event", "closed"):
        print("stream-failed: wanted an error event or a closed stream, got {}".format(record["outcome"]),
              file=sys.stderr)
        return 1
    if after > args.within:
        print("stream-failed: the stream ended {:.1f} s after the fault (limit {} s)".format(after, args.within),
              file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("greedy")
    p.add_argument("url")
    p.add_argument("out")
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("compare")
    p.add_argument("reference")
    p.add_argument("run")
    p.add_argument("--label", default="run")
    p = sub.add_parser("stream")
    p.add_argument("url")
    p.add_argument("out")
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--progress")
    p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("expect-error")
    p.add_argument("url")
    p.add_argument("--within", type=float, default=15)
    p = sub.add_parser("stream-failed")
    p.add_argument("out")
    p.add_argument("--fault", type=float, required=True)
    p.add_argument("--within", type=float, default=15)
    args = parser.parse_args()
    return {"greedy": command_greedy, "compare": command_compare, "stream": command_stream,
            "expect-error": command_expect_error, "stream-failed": command_stream_failed}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
