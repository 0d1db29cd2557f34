#!/usr/bin/env bash
# The GPU benchmark behind docs/performance.md, on a machine with the CUDA image (torch,
# transformers, peft, triton present; liger-kernel travels as a wheel). Nothing is downloaded.
#
#   bash bench/run_gpu_bench.sh [more `therapeutic-moe bench` options, e.g. --shapes 135m,1b,8b]
#
# Reads, relative to the repository root (the folder .carry/ is git-ignored, never committed):
#   .carry/wheels/liger_kernel-*.whl   pip download --no-deps -d .carry/wheels liger-kernel==0.8.5
#   .carry/data/                       counselchat_train.json + annomi_high.json (optional: real-data table)
#   .carry/tokenizer/                  the default model's tokenizer files (tokenizer.json,
#                                      tokenizer_config.json, chat_template.jinja, config.json)
# Writes bench.json and bench.log into $OUT (default: ./bench-out).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if ls .carry/wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-deps --no-index .carry/wheels/*.whl
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv || true

EXTRA=()
if [ -f .carry/data/counselchat_train.json ]; then
  EXTRA+=(--real-data .carry/data)
fi
if [ -f .carry/tokenizer/tokenizer.json ]; then
  EXTRA+=(--tokenizer .carry/tokenizer)
fi
# The bench module alone (python -m), so the other subcommands' imports cannot stop it.
python3 -m therapeutic_moe.bench.cli --shapes 135m,1b,8b --out "$OUT/bench.json" "${EXTRA[@]}" "$@" 2>&1 \
  | tee "$OUT/bench.log"
