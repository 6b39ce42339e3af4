#!/usr/bin/env bash
# Every check on the Dockerfile rules module (tools/dev/dockerfile-rules): gofmt, go vet, the
# race-enabled tests (they read app/Dockerfile and build app/ with its own `go build` line) and
# staticcheck, pinned as in app/scripts/lint.sh. Stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Same pin as app/scripts/lint.sh: staticcheck 2026.2.2 is module v0.8.2, the newest release
# that supports Go 1.26. Bump both together.
STATICCHECK_VERSION="v0.8.2"

echo "=== dockerfile-rules: gofmt -l ."
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "=== dockerfile-rules: go vet ./..."
go vet ./...

echo "=== dockerfile-rules: go test -race -count=1 ./..."
go test -race -count=1 ./...

echo "=== dockerfile-rules: staticcheck ${STATICCHECK_VERSION}"
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" -checks all ./...

echo "=== dockerfile-rules: all checks passed"
