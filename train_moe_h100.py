#!/usr/bin/env python
"""The guide's entry point: `python train_moe_h100.py [--config ...] [--resume_from_checkpoint ...]`.

Exactly `therapeutic-moe train ...`: the same command-line function with `train` in front.
On a CUDA GPU it picks bf16, the fused AdamW and the fast paths automatically; on CPU it runs
the same code in fp32.
"""

import sys

from therapeutic_moe.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
