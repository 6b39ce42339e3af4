#!/usr/bin/env bash
# The nodes' patch compliance signal, in the pipeline's Build step: `npm run node-updates` (each
# environment's pinned EKS AMI release against the one AWS recommends, and its age), its report in
# the Build log, and one line for the approval text in --summary-file. A warning only: a stale AMI,
# or AWS that could not be read, never fails the release (docs/decisions/0018-node-patching.md,
# docs/runbooks/patching-nodes.md). Bounded: node-updates gets 120 s.
#
#   bash scripts/node-ami-signal.sh --summary-file <file> [--config <file.json>]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

summary=""
config=()
while [ $# -gt 0 ]; do
  case "$1" in
    --summary-file) summary="${2:-}"; shift 2 || break ;;
    --config) config=(--config "${2:-}"); shift 2 || break ;;
    *) echo "node-ami-signal: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$summary" ]; then
  echo "node-ami-signal: --summary-file <file> is required" >&2
  exit 2
fi

echo "=== node AMIs: npm run node-updates (a warning only, never fails the release)"
timeout 120 npm run -s node-updates -- "${config[@]}"
rc=$?
# node-updates' exit codes (the table every command shares, tools/common/errors.ts): 0 current or
# within the age limit, 1 stale (or pinned ahead of a region), 2 bad usage, 3 could not check;
# timeout(1) says 124.
case "$rc" in
  0) line="current (every node AMI within its age limit)" ;;
  1) line="STALE or ahead of a region: roll the AMI (see the Build log; docs/runbooks/patching-nodes.md)" ;;
  3) line="not checked (node-updates could not read AWS; see the Build log)" ;;
  124) line="not checked (node-updates did not answer within 120 s; see the Build log)" ;;
  *) line="not checked (node-updates exit ${rc}; see the Build log)" ;;
esac
if [ "$rc" -ne 0 ]; then
  echo "WARNING: node AMIs: ${line}. The release goes on." >&2
fi
printf '%s\n' "$line" > "$summary"
