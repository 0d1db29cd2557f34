#!/usr/bin/env bash
# DDP and FSDP2 on two GPUs of one host against one GPU (docs/distributed.md, "On two H200s"):
#   1. for 1b and 8b: one GPU, then 2 GPUs with DDP, then 2 GPUs with FSDP2, the same global
#      batch (64 rows = micro-batch x accumulation x GPUs), 20 steps each: tokens/s, scaling,
#      peak memory per GPU, and the loss curves (the same global batch: they should agree);
#   2. kill and resume: a 2-GPU DDP run at 1b is SIGKILLed (the launcher) after its step-10
#      checkpoint; it resumes from that checkpoint on 2 GPUs and, from a copy, on 1 GPU; both
#      continue the uninterrupted run's losses (within bf16 tolerance);
#   3. 8b at seq 8192: one GPU without checkpointing at micro-batch 2 (expected not to fit),
#      then FSDP2 on 2 GPUs at the same micro-batch.
# Then scripts/distributed_report.py writes the table.
#
#   bash scripts/gpu_distributed.sh
#
# Environment: OUT (default distributed-out), DATA (default .carry/q/data, from
# scripts/prepare_quality_data.py), TOK (default .carry/gpu/tok), MODELS (default
# /tmp/shape-models), STEPS (default 20), WHEELS (folder of wheels to install first), PARTS
# (which parts to run, default "scaling resume long").
set -uo pipefail
OUT=${OUT:-distributed-out}; DATA=${DATA:-.carry/q/data}; TOK=${TOK:-.carry/gpu/tok}
MODELS=${MODELS:-/tmp/shape-models}; STEPS=${STEPS:-20}; PARTS=${PARTS:-scaling resume long}
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # no NVLink multicast
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpus.txt"

common() {  # common SHAPE MICRO ACCUM SEQ: the trainer flags every run shares
  echo --config configs/experiments/moe_unsupervised.json --base_model "$MODELS/$1" --dataset "$DATA/train" \
    --validation_dataset "$DATA/val" --per_device_train_batch_size "$2" --gradient_accumulation_steps "$3" \
    --max_seq_length "$4" --max_steps "$STEPS" --logging_steps 5 --eval_steps 100000 --checkpoint_minutes 60 \
    --max_hours 1 --early_stopping_patience 0 --report_to none --gradient_checkpointing false
}

run() {  # run NAME GPUS STRATEGY [trainer flags...]
  local name=$1 gpus=$2 strategy=$3; shift 3
  local start; start=$(date +%s)
  if [ "$gpus" = 1 ]; then
    python3 -m therapeutic_moe train --output_dir "runs/$name" "$@" > "$OUT/$name.log" 2>&1
  else
    torchrun --standalone --nproc_per_node="$gpus" -m therapeutic_moe train --output_dir "runs/$name" \
      --distributed_strategy "$strategy" "$@" > "$OUT/$name.log" 2>&1
  fi
  echo "$name: exit $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
  cp "runs/$name/training_report.json" "$OUT/$name.report.json" 2>/dev/null
}

for shape in 1b 8b; do
  python3 scripts/make_shape_model.py --shape "$shape" --tokenizer "$TOK" --out "$MODELS/$shape" 2>&1 | tail -1
done

if [[ " $PARTS " == *" scaling "* ]]; then
  for shape in 1b 8b; do
    micro=8; [ "$shape" = 8b ] && micro=4
    run "${shape}_1gpu" 1 ddp $(common "$shape" "$micro" $(( 64 / micro )) 2048)
    run "${shape}_ddp2" 2 ddp $(common "$shape" "$micro" $(( 32 / micro )) 2048)
    run "${shape}_fsdp2" 2 fsdp $(common "$shape" "$micro" $(( 32 / micro )) 2048)
  done
fi

if [[ " $PARTS " == *" resume "* ]]; then
  flags="$(common 1b 8 4 2048) --save_steps 5 --save_total_limit 10"
  run resume_reference 2 ddp $flags
  rm -rf runs/resume_killed
  torchrun --standalone --nproc_per_node=2 -m therapeutic_moe train --output_dir runs/resume_killed $flags \
    > "$OUT/resume_killed.log" 2>&1 &
  launcher=$!
  until [ -f runs/resume_killed/checkpoint-10/COMPLETE ] || ! kill -0 $launcher 2>/dev/null; do sleep 1; done
  kill -9 $launcher; pkill -9 -f "output_dir runs/resume_killed" || true; sleep 3
  echo "resume_killed: SIGKILL after $(ls -d runs/resume_killed/checkpoint-* 2>/dev/null | tr '\n' ' ')" | tee -a "$OUT/summary.txt"
  cp -r runs/resume_killed runs/resume_killed_1gpu
  run resume_killed 2 ddp $flags --resume_from_checkpoint latest
  run resume_killed_1gpu 1 ddp $(common 1b 8 8 2048) --save_steps 5 --save_total_limit 10 --resume_from_checkpoint latest
fi

if [[ " $PARTS " == *" long "* ]]; then
  run 8b_seq8192_1gpu 1 ddp $(common 8b 2 4 8192)
  run 8b_seq8192_fsdp2 2 fsdp $(common 8b 2 2 8192)
fi
python3 scripts/distributed_report.py "$OUT" | tee "$OUT/table.md"
