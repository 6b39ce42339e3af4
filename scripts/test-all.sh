#!/usr/bin/env bash
# `npm test`: every gate of the project, in order, each one reported; exits non-zero if any failed.
#   types (tsc) · Go service (vet, race tests, staticcheck) · manifest validator (Go)
#   · unit and integration tests (jest, incl. moto) · cdk synth (cdk-nag runs inside it) · cfn-lint · manifests: Kubernetes 1.35
#   schemas + Pod Security "restricted" · checkov (manifests and templates)
# Python tools come pinned from requirements-dev.txt into .venv (first run installs them).
# A missing tool is a failure under CI=true, and a loud skip elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"

passed=0; failed=0; skipped=0; failures=()
gate() { # gate <name> <command...>
  local name=$1; shift
  printf '\n\033[1m== %s\033[0m\n' "$name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); printf '== %s: ok (%ss)\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1)); failures+=("$name"); printf '== %s: FAILED (%ss)\n' "$name" $((SECONDS - start))
  fi
}
need() { # need <tool> <install hint>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = "true" ]; then echo "MISSING TOOL: $1 ($2); under CI=true this is a failure" >&2; return 1; fi
  echo "!!!! SKIPPING: $1 not found. Install: $2" >&2; skipped=$((skipped + 1)); return 2
}

gate "python tools (.venv: cfn-lint, checkov, moto)" bash scripts/setup-python.sh
gate "types (tsc --noEmit)" npx tsc --noEmit -p .
gate "lint (eslint type-aware, prettier --check)" npm run -s lint
if need go "https://go.dev/dl (Go 1.26)"; then
  gate "Go service: vet, race tests, fuzz seeds, staticcheck (app/)" bash app/scripts/test.sh
  # and build its binary once, before jest calls it
  gate "manifest validator: gofmt, vet, race tests, staticcheck (tools/dev/k8s-validate)" bash -c 'bash scripts/go-checks.sh tools/dev/k8s-validate && bash tools/dev/k8s-validate/run.sh --help >/dev/null'
  gate "service benchmark: gofmt, vet, staticcheck (bench/service)" bash scripts/go-checks.sh bench/service --no-tests
  gate "Dockerfile rules: gofmt, vet, race tests, staticcheck (tools/dev/dockerfile-rules)" bash tools/dev/dockerfile-rules/test.sh
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("go missing"); fi
if need shellcheck "apt-get install shellcheck"; then
  # every shell script in the repository (git ls-files: what a clone has)
  gate "shellcheck (every *.sh and .ci/run)" bash -c '{ git ls-files -z "*.sh"; printf ".ci/run\0"; } | xargs -0 shellcheck'
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("shellcheck missing"); fi
# after the Go gates: the jest suite calls the manifest validator, which is then already built
gate "jest (CDK assertions, config, tools, moto integration)" npx jest --ci

synth() {
  rm -rf cdk.out
  if ! npx cdk synth -q > /tmp/synth.$$.log 2>&1; then cat /tmp/synth.$$.log; return 1; fi
  tail -n 3 /tmp/synth.$$.log
}
gate "cdk synth, default STACK_ENVIRONMENTS (cdk-nag AwsSolutions inside)" synth

# the same check as the pipeline's Build step: errors fail, W3005 (from CDK itself) ignored
cfnlint() { bash scripts/cfn-lint.sh cdk.out; }
if need cfn-lint "bash scripts/setup-python.sh"; then gate "cfn-lint (every synthesized template)" cfnlint; elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("cfn-lint missing"); fi

render() { rm -rf cdk.out/manifests && npx tsx tools/dev/manifests.ts --out-dir cdk.out/manifests; }
gate "render manifests (npm run manifests, every environment)" render
validate() { local rc=0; for f in cdk.out/manifests/*.yaml; do bash tools/dev/k8s-validate/run.sh "$f" || rc=1; done; return $rc; }
gate "manifests: Kubernetes 1.35 schemas and Pod Security restricted (k8s-validate)" validate
if need checkov "bash scripts/setup-python.sh"; then
  checkov_manifests() { compgen -G 'cdk.out/manifests/*.yaml' >/dev/null || { echo 'no rendered manifests to scan'; return 1; }; checkov -d cdk.out/manifests --framework kubernetes --compact --quiet --skip-download; }
  gate "checkov (rendered Kubernetes manifests)" checkov_manifests
  # skips, each with its reason: .checkov-cloudformation.yaml
  checkov_templates() { compgen -G 'cdk.out/*.template.json' >/dev/null || { echo 'no synthesized templates to scan'; return 1; }; checkov -d cdk.out --config-file .checkov-cloudformation.yaml; }
  gate "checkov (synthesized CloudFormation templates)" checkov_templates
  # skips, each with its reason: .checkov-dockerfile.yaml
  gate "checkov (app/Dockerfile)" checkov -f app/Dockerfile --config-file .checkov-dockerfile.yaml
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("checkov missing"); fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed gates: %s\n' "${failures[*]}"
echo "gates: ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
