#!/usr/bin/env bash
# Type-check sst.config.ts offline: install the SST platform and its AWS provider into .sst/ (from the
# npm registry only; no AWS account, no credentials), then run tsc on the app with its own tsconfig.
# Never deploys: `sst install` only fetches packages. Usage: scripts/typecheck-sst.sh [stage]
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-typecheck}"
export AWS_EC2_METADATA_DISABLED=true SST_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
export SST_NO_BUN=1 SST_SKIP_DEPENDENCY_CHECK=1

# Reuse an existing install of the same SST version (about 40 s and 300 MB otherwise).
want="$(node -p 'JSON.parse(require("fs").readFileSync("node_modules/sst/package.json", "utf8")).version')"
if [ "$(cat .sst/platform/version 2>/dev/null || true)" != "$want" ] || [ ! -d .sst/platform/node_modules/@pulumi/aws ]; then
  npx --no-install sst install --stage "$stage"
fi
npx --no-install tsc -p infra/tsconfig.sst.json
echo "sst.config.ts type-checks (sst $want)"
