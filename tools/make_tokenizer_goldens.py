#!/usr/bin/env python3
"""Generates llmux's tokenizer goldens with Hugging Face's Rust `tokenizers` (via transformers).

Run on a machine with transformers (and so `tokenizers`) installed; needs no network:

  python3 tools/make_tokenizer_goldens.py --out OUTDIR \
      llama3=DIR_WITH_tokenizer.json qwen3=DIR llama2=DIR

For every vocabulary and every case of tokenizer_golden_cases.CASES it records the ids of
`Tokenizer.encode(text, add_special_tokens=False)` — in "plain" mode with
`encode_special_tokens = True` (special tokens in the text stay text, as transformers'
`split_special_tokens=True` does), in "special" mode with it False — plus a few cases with
`add_special_tokens=True`.

llama.cpp's converter (and llmux's, src/engine/tokenizer/hf_import.cpp) marks added tokens that
*look* special (`<|...|>`, `<｜...｜>`, `<unused...>`, ...) as CONTROL even where tokenizer.json
says `"special": false` (Qwen's `<|fim_prefix|>`), and control tokens are never parsed from
plain text. For "plain" mode the reference is therefore the same Rust tokenizer loaded from a
tokenizer.json whose look-special added tokens are marked special; where that changes the ids,
the unmodified tokenizer's ids are stored too, as "hf_unmodified_ids". The same ids are recomputed through transformers'
PreTrainedTokenizerFast and any disagreement is reported (and stored) rather than hidden.
Output: OUTDIR/<name>.json, small enough to commit.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_golden_cases import CASES  # noqa: E402

ADD_SPECIAL_CASES = ["empty", "prose_short", "leading_space", "sp_llama2_s", "sp_qwen_im"]


def case_text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace"), value.hex()
    return value, None


def looks_special(text):
    return (text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
            or (text.startswith("<|") and text.endswith("|>"))
            or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))
            or (text.startswith("<unused") and text.endswith(">")))


def control_marked(path):
    import tokenizers
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    changed = False
    for added in spec.get("added_tokens", []):
        if not added["special"] and looks_special(added["content"]):
            added["special"] = True
            changed = True
    return tokenizers.Tokenizer.from_str(json.dumps(spec)) if changed else None


def golden_for(name, directory):
    import tokenizers
    import transformers

    path = os.path.join(directory, "tokenizer.json")
    tok = tokenizers.Tokenizer.from_file(path)
    tok_ctl = control_marked(path)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=path)
    out = {
        "vocab": name,
        "reference": f"tokenizers {tokenizers.__version__} (Rust) via transformers "
                     f"{transformers.__version__}",
        "cases": [],
    }
    disagreements = 0
    for case_name, value, modes in CASES:
        text, hex_bytes = case_text(value)
        for mode in modes:
            for add_special in (False, True):
                if add_special and case_name not in ADD_SPECIAL_CASES:
                    continue
                tok.encode_special_tokens = mode == "plain"
                ids = tok.encode(text, add_special_tokens=add_special).ids
                via_tf = fast(text, add_special_tokens=add_special,
                              split_special_tokens=(mode == "plain"))["input_ids"]
                entry = {"name": case_name, "mode": mode, "add_special": add_special}
                if hex_bytes is not None:
                    entry["hex"] = hex_bytes
                else:
                    entry["text"] = text
                entry["ids"] = ids
                if mode == "plain" and tok_ctl is not None:
                    tok_ctl.encode_special_tokens = True
                    ctl_ids = tok_ctl.encode(text, add_special_tokens=add_special).ids
                    if ctl_ids != ids:
                        entry["ids"] = ctl_ids
                        entry["hf_unmodified_ids"] = ids
                if list(via_tf) != list(ids):
                    disagreements += 1
                    entry["transformers_ids"] = list(via_tf)
                out["cases"].append(entry)
    out["transformers_disagreements"] = disagreements
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("vocabs", nargs="+", help="name=directory holding tokenizer.json")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for spec in args.vocabs:
        name, directory = spec.split("=", 1)
        g = golden_for(name, directory)
        with open(os.path.join(args.out, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump(g, f, ensure_ascii=True, indent=None, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {len(g['cases'])} cases, {g['transformers_disagreements']} "
              f"transformers disagreements ({g['reference']})")


if __name__ == "__main__":
    main()
