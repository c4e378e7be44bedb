#!/usr/bin/env bash
# The whole system on one machine, end to end: a venv with moto and the AWS CLI, a jit build,
# the demo portal (`jit portal serve --demo`) in the background, then
# `jit exec demo -- aws sts get-caller-identity`, whose assumed-role ARN it prints.
#
#   scripts/demo.sh               # everything; leaves the `demo` environment in your jit config
#   JIT=/path/to/jit scripts/demo.sh      # use that binary instead of building one
#   JIT_DEMO_VENV=DIR scripts/demo.sh     # where the venv goes (default: .venv-demo)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'demo: %s\n' "$*" >&2; }

venv=${JIT_DEMO_VENV:-.venv-demo}
if ! [[ -x "${venv}/bin/moto_server" ]] || ! [[ -x "${venv}/bin/aws" ]]; then
  say "creating ${venv} with moto and the AWS CLI (about a minute)"
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q --disable-pip-version-check 'moto[server]' awscli
fi
venv_bin=$(cd "${venv}/bin" && pwd)

jit=${JIT:-}
if [[ -z "${jit}" ]]; then
  say "building jit and jit-portal (cargo build --release; several minutes the first time)"
  cargo build --release --locked --quiet --workspace
  jit=target/release/jit
fi

log=$(mktemp)
portal_pid=""
cleanup() {
  if [[ -n "${portal_pid}" ]]; then
    kill "${portal_pid}" 2>/dev/null || true
    wait "${portal_pid}" 2>/dev/null || true
  fi
  rm -f "${log}"
}
trap cleanup EXIT

say "starting the demo portal against a local moto STS"
PATH="${venv_bin}:${PATH}" "${jit}" portal serve --demo --listen 127.0.0.1:0 2>"${log}" &
portal_pid=$!
for _ in $(seq 1 600); do
  grep -q '^jit portal: demo ready' "${log}" && break
  if ! kill -0 "${portal_pid}" 2>/dev/null; then
    cat "${log}" >&2
    say "the demo portal exited"
    exit 1
  fi
  sleep 0.1
done
grep -q '^jit portal: demo ready' "${log}" || { cat "${log}" >&2; say "the demo portal did not start in 60 s"; exit 1; }
grep '^jit portal: serving' "${log}" >&2

say "jit exec demo -- aws sts get-caller-identity"
arn=$(PATH="${venv_bin}:${PATH}" "${jit}" exec demo -- aws sts get-caller-identity --query Arn --output text)
printf '%s\n' "${arn}"
