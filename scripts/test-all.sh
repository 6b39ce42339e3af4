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
# Gates that do not depend on each other run side by side (a 2-core machine: most of them use one
# core), each into its own log, printed in order once all of the group finished; same summary lines.
bg_names=(); bg_pids=(); bg_logs=()
gate_bg() { # gate_bg <name> <command...>
  local name=$1; shift
  local log; log=$(mktemp)
  ( start=$SECONDS; "$@"; rc=$?; echo $((SECONDS - start)) > "$log.seconds"; exit $rc ) > "$log" 2>&1 &
  bg_names+=("$name"); bg_pids+=($!); bg_logs+=("$log")
}
gates_wait() { # prints each background gate's output and result, in the order they were started
  local i
  for i in "${!bg_pids[@]}"; do
    local name=${bg_names[$i]} log=${bg_logs[$i]} rc=0
    wait "${bg_pids[$i]}" || rc=$?
    printf '\n\033[1m== %s\033[0m\n' "$name"
    cat "$log"
    local took; took=$(cat "$log.seconds" 2>/dev/null || echo '?')
    if [ "$rc" -eq 0 ]; then
      passed=$((passed + 1)); printf '== %s: ok (%ss)\n' "$name" "$took"
    else
      failed=$((failed + 1)); failures+=("$name"); printf '== %s: FAILED (%ss)\n' "$name" "$took"
    fi
    rm -f "$log" "$log.seconds"
  done
  bg_names=(); bg_pids=(); bg_logs=()
}
need() { # need <tool> <install hint>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = "true" ]; then echo "MISSING TOOL: $1 ($2); under CI=true this is a failure" >&2; return 1; fi
  echo "!!!! SKIPPING: $1 not found. Install: $2" >&2; skipped=$((skipped + 1)); return 2
}

gate "python tools (.venv: cfn-lint, checkov, moto)" bash scripts/setup-python.sh
gate_bg "types (tsc --noEmit)" npx tsc --noEmit -p .
gate_bg "lint (eslint type-aware, prettier --check)" npm run -s lint
if need go "https://go.dev/dl (Go 1.26)"; then
  # the Go modules one after another (go test and staticcheck use every core), beside tsc and eslint
  go_gates() {
    local rc=0
    bash app/scripts/test.sh || rc=1
    # and build the manifest validator's binary once, before jest calls it
    { bash scripts/go-checks.sh tools/dev/k8s-validate && bash tools/dev/k8s-validate/run.sh --help >/dev/null; } || rc=1
    bash scripts/go-checks.sh bench/service --no-tests || rc=1
    bash tools/dev/dockerfile-rules/test.sh || rc=1
    return $rc
  }
  gate_bg "Go: gofmt, vet, race tests, staticcheck (app/, tools/dev/k8s-validate, bench/service, tools/dev/dockerfile-rules)" go_gates
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("go missing"); fi
if need shellcheck "apt-get install shellcheck"; then
  # every shell script in the repository (git ls-files: what a clone has)
  gate_bg "shellcheck (every *.sh and .ci/run)" bash -c '{ git ls-files -z "*.sh"; printf ".ci/run\0"; } | xargs -0 shellcheck'
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("shellcheck missing"); fi
gates_wait
# after the Go gates: the jest suite calls the manifest validator, which is then already built
gate "jest (CDK assertions, config, tools, moto integration)" npx jest --ci

synth() {
  rm -rf cdk.out
  if ! npx cdk synth -q > /tmp/synth.$$.log 2>&1; then cat /tmp/synth.$$.log; return 1; fi
  tail -n 3 /tmp/synth.$$.log
}
gate "cdk synth, default STACK_ENVIRONMENTS (cdk-nag AwsSolutions inside)" synth

render() { rm -rf cdk.out/manifests && npx tsx tools/dev/manifests.ts --out-dir cdk.out/manifests; }
gate "render manifests (npm run manifests, every environment)" render
validate() { local rc=0; for f in cdk.out/manifests/*.yaml; do bash tools/dev/k8s-validate/run.sh "$f" || rc=1; done; return $rc; }
gate "manifests: Kubernetes 1.35 schemas and Pod Security restricted (k8s-validate)" validate

# The scanners only read cdk.out, now complete: side by side.
# the same check as the pipeline's Build step: errors fail, W3005 (from CDK itself) ignored
cfnlint() { bash scripts/cfn-lint.sh cdk.out; }
if need cfn-lint "bash scripts/setup-python.sh"; then gate_bg "cfn-lint (every synthesized template)" cfnlint; elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("cfn-lint missing"); fi
if need checkov "bash scripts/setup-python.sh"; then
  checkov_manifests() { compgen -G 'cdk.out/manifests/*.yaml' >/dev/null || { echo 'no rendered manifests to scan'; return 1; }; checkov -d cdk.out/manifests --framework kubernetes --compact --quiet --skip-download; }
  gate_bg "checkov (rendered Kubernetes manifests)" checkov_manifests
  # skips, each with its reason: .checkov-cloudformation.yaml
  checkov_templates() { compgen -G 'cdk.out/*.template.json' >/dev/null || { echo 'no synthesized templates to scan'; return 1; }; checkov -d cdk.out --config-file .checkov-cloudformation.yaml; }
  gate_bg "checkov (synthesized CloudFormation templates)" checkov_templates
  # skips, each with its reason: .checkov-dockerfile.yaml
  gate_bg "checkov (app/Dockerfile)" checkov -f app/Dockerfile --config-file .checkov-dockerfile.yaml
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("checkov missing"); fi
gates_wait

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed gates: %s\n' "${failures[*]}"
echo "gates: ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
