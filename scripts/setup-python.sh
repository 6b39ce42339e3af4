#!/usr/bin/env bash
# Creates .venv with the pinned Python tools (cfn-lint, checkov, moto) the first time, and again
# whenever requirements-dev.txt changes. Idempotent and quiet when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup-python: $python not found; install Python 3.10+ (the tests need cfn-lint, checkov and moto)" >&2
  exit 1
fi
echo "setup-python: installing pinned tools from requirements-dev.txt into .venv (first run takes a minute or two)"
"$python" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$want" > "$stamp"
echo "setup-python: done ($(.venv/bin/cfn-lint --version), checkov $(.venv/bin/checkov --version))"
