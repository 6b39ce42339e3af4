#!/usr/bin/env bash
# Creates .venv with the pinned Python tools (cfn-lint, checkov, moto, shellcheck, the AWS CLI) the
# first time, and again whenever requirements-dev.txt changes. Idempotent and quiet when nothing
# changed. Needs Python 3.10+ with its venv module (Debian/Ubuntu: the python3-venv package).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup-python: $python not found; install Python 3.10+ (the tests need cfn-lint, checkov, moto, shellcheck and the AWS CLI from requirements-dev.txt)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "setup-python: $("$python" --version 2>&1) is too old; install Python 3.10 or newer" >&2
  exit 1
fi
# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "setup-python: $python has no venv/ensurepip module; install it: sudo apt-get install python3-venv (Debian/Ubuntu)" >&2
  exit 1
fi
echo "setup-python: installing pinned tools from requirements-dev.txt into .venv (first run takes a minute or two)"
"$python" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$want" > "$stamp"
echo "setup-python: done ($(.venv/bin/cfn-lint --version), checkov $(.venv/bin/checkov --version), $(.venv/bin/shellcheck --version | sed -n 's/^version: /shellcheck /p'), $(.venv/bin/aws --version 2>&1 | cut -d' ' -f1))"
