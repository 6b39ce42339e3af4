#!/usr/bin/env bash
# `npm run test:integration`: the integration tier. Builds the control plane once (cached outside the
# repository; about 30 min the first time on 2 cores, with progress), then runs the tier's jest
# project (jest.integration.config.js), which starts the control plane on 127.0.0.1, runs the tests
# against it and stops every process it started. Extra arguments go to jest (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in go kubectl openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test:integration needs $tool on PATH" >&2; exit 1; }
done
start=$SECONDS
HELLO_WEB_CONTROLPLANE_BIN=$(bash test/integration/controlplane/build.sh)
export HELLO_WEB_CONTROLPLANE_BIN
echo "control plane binaries: $HELLO_WEB_CONTROLPLANE_BIN (ready after $((SECONDS - start)) s)" >&2
exec npx jest -c jest.integration.config.js --runInBand "$@"
