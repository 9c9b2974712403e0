#!/usr/bin/env bash
# The whole suite: system packages, type check, then every test.
# Unit tests run in parallel; tests with real switches and controller processes run one file
# at a time, so that timing on a 2-core machine does not depend on what else is running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
npx tsc --noEmit -p .
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
npx vitest run test/unit
# The API's tests again, on the etcd store (a 3-member cluster on loopback): the same transaction
# bodies, committed as etcd txns.
npx tsx lab/with-etcd.ts --members 3 -- npx vitest run test/unit/api
npx vitest run --no-file-parallelism test/integration test/e2e
