#!/usr/bin/env bash
# What gates a release, before anything is built or deployed (the pipeline's Build step runs it
# first; docs/decisions/0007-first-deployment.md): the service's own checks,
# `<appDir>/scripts/test.sh` (config service.appDir; for the Go service in app/: vet, race tests
# with fuzz seeds, staticcheck), then every environment's rendered Kubernetes manifests through the
# manifest validator (Kubernetes schemas, Pod Security "restricted"). Stops at the first failure.
#
#   bash scripts/release-checks.sh [--config <file.json>]
set -euo pipefail
cd "$(dirname "$0")/.."

app_dir=$(npx tsx scripts/service-dir.ts "$@")
if [ ! -f "$app_dir/scripts/test.sh" ]; then
  echo "release-checks: $app_dir/scripts/test.sh not found: the service's directory (service.appDir) must hold its checks there (docs/runbooks/deliver-another-service.md)" >&2
  exit 1
fi
echo "=== service: $app_dir/scripts/test.sh"
bash "$app_dir/scripts/test.sh"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "=== manifests: render every environment ($*)"
npx tsx tools/dev/manifests.ts --out-dir "$out" "$@"
shopt -s nullglob
manifests=("$out"/*.yaml)
if [ ${#manifests[@]} -eq 0 ]; then
  echo "release-checks: no manifests were rendered" >&2
  exit 1
fi
for f in "${manifests[@]}"; do
  echo "=== manifests: k8s-validate $(basename "$f")"
  bash tools/dev/k8s-validate/run.sh "$f"
done
echo "=== release checks passed"
