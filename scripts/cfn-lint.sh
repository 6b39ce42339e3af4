#!/usr/bin/env bash
# cfn-lint over every template of a cloud assembly: the CloudFormation check that gates a release,
# in `npm test` and in the pipeline's Build step, right after `cdk synth` (CDK's built-in
# CloudFormation validation is off: docs/decisions/0019-where-each-validator-runs.md).
# Only errors fail (warnings are printed); W3005 (redundant DependsOn) comes from CDK itself.
#
#   bash scripts/cfn-lint.sh [cloud-assembly-dir]   (default cdk.out)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"
dir=${1:-cdk.out}
command -v cfn-lint >/dev/null || { echo "cfn-lint: not found; run: bash scripts/setup-python.sh" >&2; exit 1; }
shopt -s nullglob
templates=("$dir"/*.template.json "$dir"/assembly-*/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "cfn-lint: no *.template.json under $dir (run cdk synth first)" >&2
  exit 1
fi
echo "cfn-lint: ${#templates[@]} templates under $dir"
exec cfn-lint --non-zero-exit-code error --ignore-checks W3005 -- "${templates[@]}"
