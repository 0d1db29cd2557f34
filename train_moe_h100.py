#!/usr/bin/env python
"""The guide's entry point: `python train_moe_h100.py [--config ...] [--resume_from_checkpoint ...]`.

Identical to `therapeutic-moe train`; on a CUDA GPU it picks bf16, the fused AdamW and the
fast paths automatically, on CPU it runs the same code in fp32.
"""

import sys

from therapeutic_moe.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
