#!/usr/bin/env bash
# Quick start: set up, train the embedded default model (SmolLM2-135M-Instruct) on the bundled
# sample for a short real CPU/GPU run, then evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
python train_moe_h100.py --config configs/quickstart_cpu.json "$@"
therapeutic-moe evaluate therapeutic_moe_model --dataset "$(python -c 'from therapeutic_moe.data import bundled_sample_path; print(bundled_sample_path())')" --out therapeutic_moe_model/evaluation
