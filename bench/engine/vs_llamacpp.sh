#!/usr/bin/env bash
# Runs llmux's engine and llama.cpp's llama-bench on the same GGUF files, same thread count, in
# one run, and prints tok/s side by side with the ratios.
#
#   bench/engine/vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf [MODEL.gguf ...]
#     LLAMA_CPP_BIN_DIR: a llama.cpp build's bin/ folder holding llama-bench (built outside this
#     repository; nothing of llama.cpp is part of llmux).
#   LLMUX=path/to/llmux (default build/src/llmux), THREADS (default 2), PP (512), TG (128),
#   REPS (llama-bench repetitions, default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: vs_llamacpp.sh LLAMA_CPP_BIN_DIR MODEL.gguf...}
shift
llmux=${LLMUX:-build/src/llmux}
threads=${THREADS:-2}
pp=${PP:-512}
tg=${TG:-128}
reps=${REPS:-3}
[ -x "$bin/llama-bench" ] || { echo "no llama-bench in $bin" >&2; exit 2; }
[ -x "$llmux" ] || { echo "no llmux at $llmux (build it first)" >&2; exit 2; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %10s %10s %10s %10s %8s %8s\n' model "llmux pp" "l.cpp pp" "llmux tg" "l.cpp tg" "pp x" "tg x"
for model in "$@"; do
  ours=$("$llmux" bench engine --model "$model" --threads "$threads" --prompt-tokens "$pp" \
         --gen-tokens "$tg" --json)
  theirs=$("$bin/llama-bench" -m "$model" -t "$threads" -p "$pp" -n "$tg" -r "$reps" -o json 2>/dev/null)
  python3 - "$model" "$ours" "$theirs" "$pp" "$tg" <<'PY'
import json, os, sys
model, ours, theirs, pp, tg = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lpp = next(r["avg_ts"] for r in theirs if r["n_prompt"] == pp and r["n_gen"] == 0)
ltg = next(r["avg_ts"] for r in theirs if r["n_gen"] == tg and r["n_prompt"] == 0)
print(f'{os.path.basename(model):40s} {ours["pp_tok_s"]:10.1f} {lpp:10.1f} {ours["tg_tok_s"]:10.1f} {ltg:10.1f} '
      f'{ours["pp_tok_s"]/lpp:8.2f} {ours["tg_tok_s"]/ltg:8.2f}   (roofline {ours["roofline_tg_tok_s"]:.1f} tok/s at {ours["mem_read_gbps"]:.1f} GB/s)')
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
