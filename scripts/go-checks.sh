#!/usr/bin/env bash
# The Go gates for one module of the repository: gofmt -l (prints nothing), go vet, the
# race-enabled tests, and staticcheck with every check, pinned as in app/scripts/lint.sh.
#   bash scripts/go-checks.sh <module dir> [--no-tests]
# Stops at the first failure.
set -euo pipefail
dir=${1:?usage: scripts/go-checks.sh <module dir> [--no-tests]}
cd "$(dirname "${BASH_SOURCE[0]}")/../$dir" || exit 1

# staticcheck 2026.2.2 is module v0.8.2, the newest release that supports Go 1.26; the same pin
# as app/scripts/lint.sh and tools/dev/dockerfile-rules/test.sh. Bump them together.
STATICCHECK_VERSION="v0.8.2"

echo "=== $dir: gofmt -l ."
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "=== $dir: go vet ./..."
go vet ./...
if [ "${2:-}" != "--no-tests" ]; then
  echo "=== $dir: go test -race -count=1 ./..."
  go test -race -count=1 ./...
fi
echo "=== $dir: staticcheck ${STATICCHECK_VERSION}"
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" -checks all ./...
echo "=== $dir: all checks passed"
