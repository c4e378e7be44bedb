#!/usr/bin/env bash
# Install what the test suite drives: real shells and tools from apt (when root), the AWS CLI,
# boto3 and moto in .venv, and the AWS SDK for JavaScript in tests/js. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for tool in zsh fish tmux expect shellcheck chromium chromedriver; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
  done
  missing=${missing/chromedriver/chromium-driver}
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" >.venv/.requirements
fi

# The AWS SDK for JavaScript v3 (tests/js), a consumer of `jit exec --server`. Needs node and npm.
want=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/js/node_modules/.lock-sha 2>/dev/null)" != "$want" ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
  echo "$want" >tests/js/node_modules/.lock-sha
fi
