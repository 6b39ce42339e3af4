#!/usr/bin/env bash
# Benchmarks hello-web against the seed's naive server on loopback and prints
# a Markdown table: throughput with wrk, open-model latency with vegeta at one
# constant rate, peak RSS, and the ratios. Not a test: numbers depend on the
# machine. Takes about a minute by default. Needs wrk (apt-get install wrk).
#
#   bash bench/service/run.sh                              # from the repo root
#   BENCH_APP_JSON=/tmp/bench-app.json bash bench/service/run.sh
#
# Knobs: BENCH_RUNS (3), BENCH_DURATION (5s), BENCH_CONCURRENCY (32).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app="$here/../../app"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "building hello-web, naive and the load generator..." >&2
# Same flags as the Dockerfile's build, so the numbers are the image's.
(cd "$app" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=bench -X main.commit=bench" -o "$work/hello-web" .)
(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/naive" ./naive && go build -o "$work/load" ./load)

"$work/load" \
  -app "$work/hello-web" \
  -naive "$work/naive" \
  -runs "${BENCH_RUNS:-3}" \
  -duration "${BENCH_DURATION:-5s}" \
  -concurrency "${BENCH_CONCURRENCY:-32}" \
  -json "${BENCH_APP_JSON:-}"
