#!/usr/bin/env bash
# `npm run test:integration`: the integration tier. Builds the control plane once (cached outside the
# repository; about 30 min the first time on 2 cores, with progress), then runs the tier's jest
# project (jest.integration.config.js), which starts the control plane on 127.0.0.1, runs the tests
# against it and stops every process it started. Extra arguments go to jest (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/../.."
# The tier's prerequisites beyond `npm test`'s (README, "Prerequisites"): each missing one is named
# with its install command, all at once.
missing=0
hint() { # hint <tool> <how to install it>
  command -v "$1" >/dev/null 2>&1 && return 0
  printf '!!!! test:integration needs %s on PATH. Install: %s\n' "$1" "$2" >&2
  missing=1
}
hint go 'https://go.dev/dl (Go 1.26)'
hint gcc 'sudo apt-get install gcc'
hint kubectl 'https://kubernetes.io/docs/tasks/tools/ (1.34 to 1.36; the tier passes with 1.32 too)'
hint openssl 'sudo apt-get install openssl'
[ -x .venv/bin/moto_server ] || hint moto_server 'bash scripts/setup-python.sh (or run npm test once)'
[ "$missing" -eq 0 ] || exit 1
start=$SECONDS
HELLO_WEB_CONTROLPLANE_BIN=$(bash test/integration/controlplane/build.sh)
export HELLO_WEB_CONTROLPLANE_BIN
echo "control plane binaries: $HELLO_WEB_CONTROLPLANE_BIN (ready after $((SECONDS - start)) s)" >&2
exec npx jest -c jest.integration.config.js --runInBand "$@"
