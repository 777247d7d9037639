#!/usr/bin/env bash
# Concurrent sequences on one local model: llmux's continuous-batching scheduler against
# llama.cpp's llama-batched-bench, same GGUF file, same threads, in one run; then the same
# requests through llmux's public async API, one after another and all at once.
#
#   bench/engine/batched_vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf
#     LLAMA_CPP_BIN_DIR: a llama.cpp build's bin/ folder with llama-batched-bench (built outside
#     this repository; nothing of llama.cpp is part of llmux).
#   LLMUX (default build/src/llmux), THREADS (2), NPP (64), NTG (32), NPL (1,2,4,8,16),
#   API_N (16 requests), API_TG (128), ROUNDS (3), API_ROUNDS (ROUNDS).
#
# Each round runs every level with llmux and then llama-batched-bench, one level after another, so
# the two runs of a ratio are seconds apart; a table per round, then each level's median ratio
# with its range.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: batched_vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf}
model=${2:?usage: batched_vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf}
llmux=${LLMUX:-build/src/llmux}
threads=${THREADS:-2}
npp=${NPP:-64}
ntg=${NTG:-32}
npl=${NPL:-1,2,4,8,16}
api_n=${API_N:-16}
api_tg=${API_TG:-128}
[ -x "$bin/llama-batched-bench" ] || { echo "no llama-batched-bench in $bin" >&2; exit 2; }
[ -x "$llmux" ] || { echo "no llmux at $llmux (build it first)" >&2; exit 2; }
max_pl=$(tr ',' '\n' <<<"$npl" | sort -n | tail -1)
ctx=$(( max_pl * (npp + ntg) + 64 ))

rounds=${ROUNDS:-3}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  echo "round $round: prompt $npp / generation $ntg tokens per sequence; aggregate generation tok/s"
  printf '%4s %8s %10s %6s %22s %21s\n' seqs llmux llama.cpp ratio "llmux ttft p50/p99 ms" "llmux itl p50/p99 ms"
  # Level by level, llmux and then llama-batched-bench at the same level: the two runs of a
  # ratio are a few seconds apart, so a slow minute of the machine falls on both.
  for level in ${npl//,/ }; do
    ours=$("$llmux" bench engine --model "$model" --threads "$threads" --prompt-tokens "$npp" \
           --gen-tokens "$ntg" --concurrency "$level" --json)
    theirs=$("$bin/llama-batched-bench" -m "$model" -t "$threads" -c "$ctx" -b 2048 -ub 512 \
             -npp "$npp" -ntg "$ntg" -npl "$level" --output-format jsonl 2>/dev/null | grep '^{')
    python3 - "$ours" "$theirs" "$results" <<'PY'
import json, sys
r = json.loads(sys.argv[1])["concurrency"][0]
t = json.loads(sys.argv[2].splitlines()[0])
assert t["pl"] == r["c"]
print(f'{r["c"]:>4} {r["tg_tok_s"]:>8.1f} {t["speed_tg"]:>10.1f} {r["tg_tok_s"]/t["speed_tg"]:>6.2f} '
      f'{r["ttft_ms_p50"]:>10.0f}/{r["ttft_ms_p99"]:<10.0f} {r["itl_ms_p50"]:>10.1f}/{r["itl_ms_p99"]:<10.1f}')
with open(sys.argv[3], "a") as out:
    out.write(json.dumps({"c": r["c"], "x": r["tg_tok_s"] / t["speed_tg"]}) + "\n")
PY
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("median ratio over the rounds (range):")
for c in dict.fromkeys(r["c"] for r in rows):
    v = [r["x"] for r in rows if r["c"] == c]
    print(f'{c:>4} {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})')
PY

# The public API: API_N distinct prompts, API_TG tokens each (end-of-generation ignored), one
# after another and all at once, against the engine's aggregate rates at 1 and API_N sequences
# measured just before, in each of API_ROUNDS rounds (default ROUNDS); then the medians.
prompt="Request {} of the benchmark: summarise the history of the printing press in Europe, its inventors, its spread, and its effect on literacy."
api_results=$(mktemp)
trap 'rm -f "$results" "$api_results"' EXIT
for round in $(seq "${API_ROUNDS:-$rounds}"); do
  engine=$("$llmux" bench engine --model "$model" --threads "$threads" --prompt-tokens 32 \
           --gen-tokens "$api_tg" --concurrency "1,$api_n" --json)
  api=$("$llmux" bench client --provider local --model "$model" -o "threads=$threads" \
        -o "ctx_size=$(( api_tg + 96 ))" -o "kv_size=$(( api_n * (api_tg + 96) ))" --requests "$api_n" --concurrency "$api_n" \
        --max-tokens "$api_tg" --prompt "$prompt" --extra-body '{"raw":true,"ignore_eos":true}' --json)
  python3 - "$engine" "$api" "$api_n" "$round" "$api_results" <<'PY'
import json, sys
engine, api, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
lv = {r["c"]: r["tg_tok_s"] for r in engine["concurrency"]}
run = api["runs"][0]
speedup = run["speedup"]
bound = 0.8 * lv[n] / lv[1]
print(f"async_generate round {sys.argv[4]}: {n} requests sequential {api['sequential_s']:.1f} s vs concurrent {run['wall_s']:.1f} s: "
      f"speedup {speedup:.2f}x; engine aggregate "
      f"{lv[n]:.1f} tok/s at {n} vs {lv[1]:.1f} at 1 -> 0.8 x ratio = {bound:.2f} ({'met' if speedup >= bound else 'NOT met'})")
with open(sys.argv[5], "a") as out:
    out.write(json.dumps({"speedup": speedup, "bound": bound}) + "\n")
PY
done
python3 - "$api_results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
s, b = [r["speedup"] for r in rows], [r["bound"] for r in rows]
print(f"async_generate median speedup {statistics.median(s):.2f}x ({min(s):.2f}-{max(s):.2f}) vs median bound "
      f"{statistics.median(b):.2f} ({min(b):.2f}-{max(b):.2f}); met in {sum(x >= y for x, y in zip(s, b))} of {len(rows)} rounds")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
