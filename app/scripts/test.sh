#!/usr/bin/env bash
# Runs every check on the Go module in app/: vet, the race-enabled tests
# (fuzz seeds included) and staticcheck. Stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "=== app: gofmt -l ."
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w): $unformatted" >&2; exit 1; fi

echo "=== app: go vet ./..."
go vet ./...

echo "=== app: go test -race -count=1 ./..."
go test -race -count=1 ./...

echo "=== app: staticcheck (scripts/lint.sh)"
scripts/lint.sh

echo "=== app: all checks passed"
