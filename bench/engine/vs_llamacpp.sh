#!/usr/bin/env bash
# Runs llmux's engine and llama.cpp's llama-bench on the same GGUF files, same thread count, in
# one run, and prints tok/s side by side with the ratios.
#
#   bench/engine/vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf [MODEL.gguf ...]
#     LLAMA_CPP_BIN_DIR: a llama.cpp build's bin/ folder holding llama-bench (built outside this
#     repository; nothing of llama.cpp is part of llmux).
#   LLMUX=path/to/llmux (default build/src/llmux), THREADS (default 2), PP (512), TG (128),
#   REPS (repetitions of each test, both engines: llama-bench -r, llmux --reps; each reports
#   the mean of its repetitions' rates; default 3), ROUNDS (default 3).
#
# Each round measures every model's prompt test with llmux and then with llama.cpp, then its
# generation test the same way, so each ratio compares two runs seconds apart (this machine
# kind's speed moves from one minute to the next); the last lines give each ratio's median over
# the rounds with its range.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf...}
shift
llmux=${LLMUX:-build/src/llmux}
threads=${THREADS:-2}
pp=${PP:-512}
tg=${TG:-128}
reps=${REPS:-3}
rounds=${ROUNDS:-3}
[ -x "$bin/llama-bench" ] || { echo "no llama-bench in $bin" >&2; exit 2; }
[ -x "$llmux" ] || { echo "no llmux at $llmux (build it first)" >&2; exit 2; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# One test (prompt tokens, generated tokens; the other 0) of $model with each engine.
run_llmux() {
  "$llmux" bench engine --model "$model" --threads "$threads" --prompt-tokens "$1" --gen-tokens "$2" \
    --reps "$reps" --json
}
run_llamacpp() {
  "$bin/llama-bench" -m "$model" -t "$threads" -p "$1" -n "$2" -r "$reps" -o json 2>/dev/null
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-32s %9s %9s %9s %9s %6s %6s  %s\n' round model "llmux pp" "l.cpp pp" "llmux tg" "l.cpp tg" \
  "pp x" "tg x" "decode roofline"
for round in $(seq "$rounds"); do
  for model in "$@"; do
    ours_pp=$(run_llmux "$pp" 0)
    theirs_pp=$(run_llamacpp "$pp" 0)
    ours_tg=$(run_llmux 0 "$tg")
    theirs_tg=$(run_llamacpp 0 "$tg")
    ours=$(python3 -c 'import json, sys; a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2]); a.update(b); print(json.dumps(a))' \
      "$ours_pp" "$ours_tg")
    theirs=$(python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]) + json.loads(sys.argv[2])))' \
      "$theirs_pp" "$theirs_tg")
    python3 - "$round" "$model" "$ours" "$theirs" "$pp" "$tg" "$results" <<'PY'
import json, os, sys
rnd, model, ours, theirs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
pp, tg, out = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
lpp = next(r["avg_ts"] for r in theirs if r["n_prompt"] == pp and r["n_gen"] == 0)
ltg = next(r["avg_ts"] for r in theirs if r["n_gen"] == tg and r["n_prompt"] == 0)
r = {"model": os.path.basename(model), "pp_x": ours["pp_tok_s"] / lpp, "tg_x": ours["tg_tok_s"] / ltg,
     "roof": ours["tg_tok_s"] / ours["roofline_tg_tok_s"]}
print(f'{rnd:<5} {r["model"]:32s} {ours["pp_tok_s"]:9.1f} {lpp:9.1f} {ours["tg_tok_s"]:9.1f} {ltg:9.1f} '
      f'{r["pp_x"]:6.2f} {r["tg_x"]:6.2f}  {ours["roofline_tg_tok_s"]:.1f} tok/s at '
      f'{ours["mem_read_gbps"]:.1f} GB/s: tg at {100 * r["roof"]:.0f}%')
with open(out, "a") as f:
    f.write(json.dumps(r) + "\n")
PY
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("medians over the rounds (range):")
for m in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == m]
    def s(k, pct=False):
        v = [r[k] * (100 if pct else 1) for r in rs]
        f = "{:.0f}%" if pct else "{:.2f}"
        return f"{f.format(statistics.median(v))} ({f.format(min(v))}-{f.format(max(v))})"
    print(f'  {m:32s} pp x {s("pp_x")}  tg x {s("tg_x")}  tg / roofline {s("roof", True)}')
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
