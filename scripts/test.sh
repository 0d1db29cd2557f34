#!/usr/bin/env bash
# Set up (with test dependencies) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
# Browser tests use Debian's chromium + chromedriver when they can be installed; they skip otherwise.
if [ "$(id -u)" = "0" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "[test] chromium not installable; browser tests will skip"
fi
export WANDB_MODE=offline WANDB_SILENT=true
python -m pytest -q "$@"
