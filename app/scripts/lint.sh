#!/usr/bin/env bash
# Lints the Go module in app/ with staticcheck, pinned to an exact version.
# Exits non-zero on any finding. The first run downloads staticcheck through
# the Go module proxy; later runs use the module cache.
set -euo pipefail

# staticcheck 2026.2.2 is module version v0.8.2, the newest release that
# supports Go 1.26. Bump deliberately: new releases add checks.
STATICCHECK_VERSION="v0.8.2"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" -checks all ./...
