#!/usr/bin/env bash
# Runs k8s-validate with the given arguments, building it first into bin/k8s-validate when the
# binary is missing or older than any of its sources (*.go, go.mod, go.sum).
#
#   bash tools/dev/k8s-validate/run.sh [--psa-version v1.35] [--json] <file.yaml|->
#
# Exit status is the tool's: 0 no findings, 1 findings, 2 unreadable input or usage error;
# 2 as well when the build fails (no Go toolchain, or modules that cannot be downloaded).
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$dir/bin/k8s-validate"

stale() {
  [[ -x "$bin" ]] || return 0
  [[ -n "$(find "$dir" -maxdepth 1 -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -newer "$bin" -print -quit)" ]]
}

if stale; then
  if ! command -v go >/dev/null 2>&1; then
    echo "k8s-validate: cannot build: no go command on PATH" >&2
    exit 2
  fi
  mkdir -p "$dir/bin"
  # Build beside the target and rename: concurrent runs never exec a half-written binary.
  tmp="$dir/bin/.k8s-validate.$$.$RANDOM"
  if ! (cd "$dir" && go build -o "$tmp" .) >&2; then
    rm -f "$tmp"
    echo "k8s-validate: build failed (see above)" >&2
    exit 2
  fi
  mv -f "$tmp" "$bin"
fi

exec "$bin" "$@"
