#!/usr/bin/env bash
# Client overhead, llmux vs the official openai Node SDK (v5), side by side against one
# `llmux mock-server` process with no simulated latency (every answer is ready at once):
# requests/s and client CPU time per request at concurrency 1 and 64, streaming and not.
#
#   bench/client_overhead/run.sh [BUILD_DIR]        (default: build)
#   env: REQUESTS (default 3000), WARMUP (300), ROUNDS (2), OUTPUT_TOKENS (16),
#        LLMUX_BENCH_NPM_DIR (default .cache/bench-npm), PIN=0 to skip CPU pinning.
# Needs BUILD_DIR configured with -DLLMUX_BUILD_BENCH=ON and the targets llmux, llmux_client built.
# CPU time is the client process's own (getrusage / process.cpuUsage), measured after warm-up;
# the server runs in its own process (pinned to CPU 0, clients to CPU 1 when PIN=1 and nproc>1).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$repo/build}"
requests="${REQUESTS:-3000}"
warmup="${WARMUP:-300}"
rounds="${ROUNDS:-2}"
tokens="${OUTPUT_TOKENS:-16}"
npm_dir="${LLMUX_BENCH_NPM_DIR:-$repo/.cache/bench-npm}"
sdk_version="5.23.2"

llmux="$build/src/llmux"
driver="$build/bench/client_overhead/llmux_client"
for f in "$llmux" "$driver"; do
  [ -x "$f" ] || { echo "run.sh: $f not built (cmake -DLLMUX_BUILD_BENCH=ON; build llmux llmux_client)" >&2; exit 1; }
done

manifest="$npm_dir/node_modules/openai/package.json"
if [ ! -f "$manifest" ] || ! grep -q "\"version\": *\"$sdk_version\"" "$manifest"; then
  echo "run.sh: installing openai@$sdk_version into $npm_dir" >&2
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    "openai@$sdk_version"
fi

server_pin=() client_pin=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
  server_pin=(taskset -c 0) client_pin=(taskset -c 1)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"${server_pin[@]}" "$llmux" mock-server --port 0 --output-tokens "$tokens" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
base="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/server.out")"
[ -n "$base" ] || { echo "run.sh: mock-server did not start: $(cat "$work/server.err")" >&2; exit 1; }

echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mock-server $base, $tokens output tokens, no latency; $requests requests per run after $warmup warm-up"
results="$work/results.jsonl"
for round in $(seq "$rounds"); do
  for stream in "" "--stream"; do
    for c in 1 64; do
      args=(--base-url "$base/v1" --requests "$requests" --warmup "$warmup" --concurrency "$c" $stream)
      "${client_pin[@]}" "$driver" "${args[@]}" | sed "s/^{/{\"round\":$round,/" >>"$results"
      OPENAI_NODE_MODULES="$npm_dir/node_modules" "${client_pin[@]}" node \
        "$repo/bench/client_overhead/openai_node.cjs" "${args[@]}" | sed "s/^{/{\"round\":$round,/" >>"$results"
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$results"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| mode | c | round | llmux req/s | Node SDK req/s | llmux CPU µs/req | Node SDK CPU µs/req | CPU ratio (Node/llmux) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["client"] != "llmux":
        continue
    n = next(x for x in rows if x["client"] != "llmux" and x["round"] == r["round"]
             and x["stream"] == r["stream"] and x["c"] == r["c"])
    print(f"| {'stream' if r['stream'] else 'non-stream'} | {r['c']} | {r['round']} | {r['rps']:.0f} | {n['rps']:.0f} "
          f"| {r['cpu_us_per_request']:.1f} | {n['cpu_us_per_request']:.1f} | {n['cpu_us_per_request'] / r['cpu_us_per_request']:.1f}x |")
errors = sum(r["errors"] for r in rows)
print(f"\nerrors: {errors}; Node SDK: {rows[1]['client']}")
PY
