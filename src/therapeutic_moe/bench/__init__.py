"""`therapeutic-moe bench`: training throughput, MFU and memory of our setup against plain
PEFT LoRA and PEFT + Liger, on random weights of real model shapes (see docs/performance.md)."""
