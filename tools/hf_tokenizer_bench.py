#!/usr/bin/env python3
"""Throughput of Hugging Face `tokenizers` (Rust) on the same corpora as bench/tokenizer_bench.

  RAYON_NUM_THREADS=1 python3 tools/hf_tokenizer_bench.py name=DIR... -- FILE...

Encodes each whole file (add_special_tokens=False) with each vocabulary, best of 5 runs after a
warm-up, on one thread, and prints MB/s (10^6 bytes of UTF-8 input per second) and token counts
as JSON lines.
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main():
    import tokenizers
    argv = sys.argv[1:]
    sep = argv.index("--")
    vocabs, files = argv[:sep], argv[sep + 1:]
    for spec in vocabs:
        name, directory = spec.split("=", 1)
        tok = tokenizers.Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        for path in files:
            text = open(path, encoding="utf-8").read()
            n_bytes = len(text.encode("utf-8"))
            n_tokens = len(tok.encode(text, add_special_tokens=False).ids)
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                tok.encode(text, add_special_tokens=False)
                best = min(best, time.perf_counter() - t0)
            print(json.dumps({"impl": f"hf-tokenizers {tokenizers.__version__}", "vocab": name,
                              "file": os.path.basename(path), "bytes": n_bytes,
                              "tokens": n_tokens, "mb_s": round(n_bytes / best / 1e6, 2)}))


if __name__ == "__main__":
    main()
