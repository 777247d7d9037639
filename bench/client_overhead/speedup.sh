#!/usr/bin/env bash
# What concurrency buys against an inference server with k parallel slots: `llmux bench client`
# against `llmux mock-server --slots k` for k = 1, 4, 16 at concurrency 1, 2, 4, 8, 16, 64, with the
# target speedup 0.9 x min(c, k) next to each measured one.
#
#   bench/client_overhead/speedup.sh [BUILD_DIR]     (default: build; needs the llmux target)
#   env: SLOTS ("1 4 16"), CONCURRENCY (1,2,4,8,16,64), REQUESTS (64), TTFT_MS (50),
#        TOK_PER_S (200), OUTPUT_TOKENS (20), STREAM=1 for streaming requests
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$repo/build}"
llmux="$build/src/llmux"
[ -x "$llmux" ] || { echo "speedup.sh: $llmux not built" >&2; exit 1; }
slots_list="${SLOTS:-1 4 16}"
levels="${CONCURRENCY:-1,2,4,8,16,64}"
requests="${REQUESTS:-64}"
ttft="${TTFT_MS:-50}"
rate="${TOK_PER_S:-200}"
tokens="${OUTPUT_TOKENS:-20}"
stream=()
[ "${STREAM:-0}" = 1 ] && stream=(--stream)

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mock-server --ttft-ms $ttft --tok-per-s $rate --output-tokens $tokens; bench client --requests $requests --concurrency $levels ${stream[*]}"
for slots in $slots_list; do
  "$llmux" mock-server --port 0 --slots "$slots" --ttft-ms "$ttft" --tok-per-s "$rate" \
    --output-tokens "$tokens" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  base="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/server.out")"
  [ -n "$base" ] || { echo "speedup.sh: mock-server did not start: $(cat "$work/server.err")" >&2; exit 1; }
  "$llmux" bench client --provider openai-compatible --model llmux-mock --base-url "$base/v1" --requests "$requests" \
    --concurrency "$levels" "${stream[@]}" --json | sed "s/^{/{\"slots\":$slots,/" >>"$work/results.jsonl"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$work/results.jsonl"
python3 - "$work/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
levels = [r["c"] for r in rows[0]["runs"]]
print("\n| slots | sequential s | " + " | ".join(f"c={c}" for c in levels) + " |")
print("|---|---|" + "---|" * len(levels))
short = []
for row in rows:
    cells = []
    for r in row["runs"]:
        target = 0.9 * min(r["c"], row["slots"])
        ok = r["speedup"] >= target and r["errors"] == 0
        if not ok:
            short.append((row["slots"], r["c"], r["speedup"], target))
        cells.append(f"{r['speedup']:.2f}x (≥{target:.1f}){'' if ok else ' SHORT'}")
    print(f"| {row['slots']} | {row['sequential_s']:.2f} | " + " | ".join(cells) + " |")
print("\nall speedups >= 0.9 x min(c, slots)" if not short else f"\nshortfalls: {short}")
PY
