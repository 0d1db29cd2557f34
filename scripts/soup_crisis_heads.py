"""Average crisis heads trained with different seeds into one (a weight soup; safety/soup.py).

    python scripts/soup_crisis_heads.py seed0.safetensors seed1.safetensors --threshold 0.65 --out soup.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from therapeutic_moe.safety.encoder import EncoderUnavailable
from therapeutic_moe.safety.soup import soup
from therapeutic_moe.safety.semantic import CrisisModel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("heads", nargs="+", type=Path, help="head files of one recipe, each from train_crisis_head.py")
    parser.add_argument("--threshold", type=float, help="decision threshold of the soup (default: the first head's)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the soup")
    args = parser.parse_args(argv)
    try:
        model = soup([CrisisModel.load(p) for p in args.heads], args.threshold)
    except (EncoderUnavailable, ValueError) as exc:
        print(f"soup_crisis_heads: {exc}", file=sys.stderr)
        return 2
    model.save(args.out)
    print(f"wrote {args.out}: soup of {len(args.heads)} heads, LoRA rank {model.lora_settings['r']}, "
          f"threshold {model.threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
