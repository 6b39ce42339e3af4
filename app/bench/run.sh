#!/usr/bin/env bash
# Benchmarks hello-web against the seed's naive server on loopback and prints
# a Markdown table (requests/s, p50/p99 latency, peak RSS, and their ratio).
# Not a test: numbers depend on the machine. Takes about 40 s by default.
#
#   bash app/bench/run.sh                              # from the repo root
#   BENCH_APP_JSON=/tmp/bench-app.json bash app/bench/run.sh
#
# Knobs: BENCH_RUNS (3), BENCH_DURATION (5s), BENCH_CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "building hello-web, naive and the load generator..." >&2
# Same flags as the Dockerfile's build, so the numbers are the image's.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=bench -X main.commit=bench" -o "$work/hello-web" .
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/naive" ./bench/naive
go build -o "$work/load" ./bench/load

"$work/load" \
  -app "$work/hello-web" \
  -naive "$work/naive" \
  -runs "${BENCH_RUNS:-3}" \
  -duration "${BENCH_DURATION:-5s}" \
  -concurrency "${BENCH_CONCURRENCY:-32}" \
  -json "${BENCH_APP_JSON:-}"
