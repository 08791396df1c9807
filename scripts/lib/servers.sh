# Shared helpers for the benchmark scripts: build and locate shoal, free ports, start/stop servers.
# Source it from a script that has `set -euo pipefail` and has cd'ed to the repository root.

shoal_binary() {  # builds release once, prints the path
  swift build -c release --product shoal >/dev/null
  echo "$(swift build -c release --show-bin-path)/shoal"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_pids=()
stop_servers() {
  for p in "${server_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${server_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  server_pids=()
}

# wait_ready URL PID [PATH]: polls URL/PATH (default /health) until 200, at most 180 s.
wait_ready() {
  local path="${3:-/health}"
  for _ in $(seq 1 1800); do
    if curl -sf "$1$path" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "server for $1 exited; see its log" >&2; return 1; }
    sleep 0.1
  done
  echo "server at $1 not ready" >&2; return 1
}

# metric_sum URL NAME: the sum of every sample of a Prometheus series (0 when absent).
metric_sum() {
  curl -sf "$1/metrics" | python3 -c '
import sys
name = sys.argv[1]; total = 0.0
for line in sys.stdin:
    if line.startswith(name) and (len(line) == len(name) or line[len(name)] in "{ "):
        total += float(line.rsplit(" ", 1)[1])
print(total)' "$2"
}
