#!/usr/bin/env bash
# Trainer throughput on one GPU, end to end, against the HF baseline in the same session
# (docs/performance.md, "The trainer on an H200"):
#   for each shape: `therapeutic-moe train` with experts and without (all-linear LoRA), its own
#   auto batch size, on real packed therapy data; HF Trainer + PEFT + Liger on the same windows
#   and the same rows per step (scripts/hf_baseline_train.py); and the bench's step at that
#   shape (trainer-vs-bench ratio). Then scripts/throughput_report.py writes the table.
#
#   SHAPES="135m 1b" bash scripts/gpu_throughput.sh
#
# Environment: OUT (results, default throughput-out), DATA (default .carry/q/data, written by
# scripts/prepare_quality_data.py), TOK (tokenizer folder of the default model, default
# .carry/gpu/tok), MODELS (random-weight model folders, default /tmp/shape-models), STEPS
# (optimizer steps per run, default 40), ROWS (global rows per step, default 64: auto batch size
# picks the largest divisor that fits), WHEELS (folder of wheels to install first, e.g. liger-kernel,
# bitsandbytes), QLORA (1 = also the MoE run on a 4-bit base).
set -uo pipefail
OUT=${OUT:-throughput-out}; DATA=${DATA:-.carry/q/data}; TOK=${TOK:-.carry/gpu/tok}
MODELS=${MODELS:-/tmp/shape-models}; STEPS=${STEPS:-40}; ROWS=${ROWS:-64}; SHAPES=${SHAPES:-135m 1b 8b}
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, torch.cuda.get_device_name(0))" | tee "$OUT/versions.txt"

train() {  # train SHAPE ARM CONFIG [more trainer flags]
  local shape=$1 arm=$2 config=$3 dir="runs/$1_$2"; shift 3
  local start; start=$(date +%s)
  python3 -m therapeutic_moe train --config "configs/experiments/$config.json" --base_model "$MODELS/$shape" \
    --dataset "$DATA/train" --validation_dataset "$DATA/val" --output_dir "$dir" --max_steps "$STEPS" \
    --per_device_train_batch_size "$ROWS" --gradient_accumulation_steps 1 --auto_find_batch_size true \
    --logging_steps 5 --eval_steps 100000 --checkpoint_minutes 60 --max_hours 1 --early_stopping_patience 0 \
    --report_to none "$@" > "$OUT/${shape}_${arm}.train.log" 2>&1
  echo "$shape $arm: train exit $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
  cp "$dir/training_report.json" "$OUT/${shape}_${arm}.report.json" 2>/dev/null
}

for shape in $SHAPES; do
  python3 scripts/make_shape_model.py --shape "$shape" --tokenizer "$TOK" --out "$MODELS/$shape" 2>&1 | tail -1
  train "$shape" lora lora_all_linear
  train "$shape" moe moe_unsupervised
  # QLoRA=1: the same MoE run on a 4-bit base (bitsandbytes, e.g. from WHEELS)
  [ "${QLORA:-0}" = 1 ] && train "$shape" qlora moe_unsupervised --load_in_4bit true
  rows=$(grep -o 'micro-batch [0-9]*' "$OUT/${shape}_lora.train.log" | head -1 | grep -o '[0-9]*$')
  # the baseline checkpoints exactly when our run did: the probe's decision when it made one,
  # else the start-up line's
  log="$OUT/${shape}_lora.train.log"; ckpt=""
  if grep -q "gradient checkpointing auto: on" "$log"; then ckpt="--gradient-checkpointing"
  elif ! grep -q "gradient checkpointing auto:" "$log" && grep -q "gradient checkpointing: on" "$log"; then
    ckpt="--gradient-checkpointing"; fi
  python3 scripts/hf_baseline_train.py --model "$MODELS/$shape" --dataset "$DATA/train" --rows-per-step "${rows:-8}" \
    --max-steps "$STEPS" $ckpt --out "$OUT/${shape}_baseline.json" > "$OUT/${shape}_baseline.log" 2>&1
  echo "$shape baseline ($rows rows/step $ckpt): exit $?" | tee -a "$OUT/summary.txt"
  python3 -m therapeutic_moe.bench.cli --shapes "$shape" --variants ours,ours_e4 --out "$OUT/${shape}_bench.json" \
    > "$OUT/${shape}_bench.log" 2>&1
  echo "$shape bench: exit $?" | tee -a "$OUT/summary.txt"
  rm -rf "$MODELS/$shape" runs/"${shape}"_*/checkpoint-*  # disk: the 8B folder is 16 GB
done
python3 scripts/throughput_report.py "$OUT" | tee "$OUT/table.md"
