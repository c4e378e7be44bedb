#!/usr/bin/env bash
# Install what the test suite drives: real shells, tools and PostgreSQL from apt (when root), and
# the AWS CLI, boto3 and moto in .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for tool in zsh fish tmux expect shellcheck chromium chromedriver openssl psql; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
  done
  missing=${missing/chromedriver/chromium-driver}
  missing=${missing/psql/postgresql}
  # The PostgreSQL tests start their own throwaway cluster with the server binaries.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing="${missing/ postgresql/} postgresql"
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
