"""Write a Hugging Face model folder with random weights at one of the bench's shapes.

    python scripts/make_shape_model.py --shape 1b --tokenizer TOKENIZER_DIR --out models/1b

For throughput runs of the real trainer at shapes whose weights cannot be downloaded (a GPU
machine without network): speed does not depend on the weights' values. The tokenizer folder's
files are copied in; its ids must be below the shape's vocabulary (SmolLM2's 49,152 fit every shape).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from therapeutic_moe.bench.shapes import SHAPES

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
                   "generation_config.json")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", required=True, choices=sorted(SHAPES), help="The bench shape (bench/shapes.py).")
    p.add_argument("--tokenizer", required=True, type=Path, help="Folder holding the tokenizer files to copy.")
    p.add_argument("--out", required=True, type=Path, help="Model folder to write (skipped when complete).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the random weights.")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if (args.out / "config.json").is_file() and any(args.out.glob("*.safetensors")):
        print(f"{args.out}: already written")
        return
    from transformers import LlamaForCausalLM

    start = time.time()
    torch.manual_seed(args.seed)
    config = SHAPES[args.shape].llama_config()
    device = "cuda" if torch.cuda.is_available() else "cpu"  # random init of 8B on the GPU takes seconds
    with torch.device(device):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(args.out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (args.tokenizer / name).is_file():
            shutil.copy(args.tokenizer / name, args.out / name)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {args.shape} shape, {params / 1e9:.2f} B parameters, written in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
