#!/usr/bin/env bash
# The whole suite: system packages, type check, then every test (unit, integration, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
npx tsc --noEmit -p .
npx vitest run "$@"
