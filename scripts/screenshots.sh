#!/usr/bin/env bash
# Screenshots of the portal's pages for docs/screenshots: a build, the demo portal
# (`jit portal serve --demo`, with its own moto) in a throwaway HOME, web passwords for its
# `demo` user and an admin `root`, then the browser flows in tests/web with JIT_SCREENSHOTS set.
# login-sso.png comes from a second portal with single sign-on through the test OpenID Connect
# provider (tests/web/oidc-provider.mjs), so the other pages show no SSO button; device-confirm.png
# from a `jit login --device` approved in the browser; passkeys-profile.png and
# passkeys-factor.png from a third portal at http://localhost:PORT (an IP address is no WebAuthn
# relying-party id) with Chromium's virtual authenticators.
# Needs what scripts/test-deps.sh installs (.venv with moto, tests/web/node_modules, chromium).
#
#   scripts/screenshots.sh                          # writes docs/screenshots/*.png
#   JIT_SCREENSHOTS=DIR scripts/screenshots.sh      # somewhere else
#   JIT=/path/to/jit scripts/screenshots.sh         # that binary (jit-portal beside it)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'screenshots: %s\n' "$*" >&2; }

repo=$(pwd)
out=${JIT_SCREENSHOTS:-docs/screenshots}
mkdir -p "${out}"
out=$(cd "${out}" && pwd)
venv_bin=${repo}/.venv/bin
[[ -x "${venv_bin}/moto_server" ]] || { say "no moto in .venv: run scripts/test-deps.sh"; exit 1; }
[[ -d tests/web/node_modules/playwright-core ]] || { say "no playwright-core: run scripts/test-deps.sh"; exit 1; }

jit=${JIT:-}
if [[ -z "${jit}" ]]; then
  say "building jit and jit-portal"
  cargo build --quiet --workspace
  jit=${repo}/target/debug/jit
fi

tmp=$(mktemp -d)
portal_pid=""
login_pid=""
federation_pid=""
sso_pid=""
provider_pid=""
device_pid=""
passkeys_pid=""
cleanup() {
  for pid in "${login_pid}" "${portal_pid}" "${federation_pid}" "${sso_pid}" "${provider_pid}" \
    "${device_pid}" "${passkeys_pid}"; do
    if [[ -n "${pid}" ]]; then
      kill "${pid}" 2>/dev/null || true
      wait "${pid}" 2>/dev/null || true
    fi
  done
  rm -rf "${tmp}"
}
trap cleanup EXIT

# Everything the demo writes (its database, token file and `demo` environment) stays in ${tmp}.
export HOME="${tmp}/home"
export XDG_CONFIG_HOME="${tmp}/config" XDG_CACHE_HOME="${tmp}/cache" XDG_DATA_HOME="${tmp}/data"
export PATH="${venv_bin}:${PATH}"
mkdir -p "${HOME}"
db=${tmp}/portal.db
log=${tmp}/portal.log

# The first line of FILE once a server started in the background writes it; empty after 5 s.
first_line() {
  local line=""
  for _ in $(seq 1 50); do
    line=$(head -n 1 "$1")
    [[ -n "${line}" ]] && break
    sleep 0.1
  done
  printf '%s\n' "${line}"
}

# Console sign-in URLs from a local stand-in for AWS's federation endpoint.
node tests/web/federation.mjs >"${tmp}/federation.url" &
federation_pid=$!
signin=$(first_line "${tmp}/federation.url")
[[ -n "${signin}" ]] || { say "the federation stand-in did not start"; exit 1; }

say "starting the demo portal"
"${jit}" portal --db "${db}" serve --demo --listen 127.0.0.1:0 --signin-url "${signin}" 2>"${log}" &
portal_pid=$!
for _ in $(seq 1 600); do
  grep -q '^jit portal: demo ready' "${log}" && break
  kill -0 "${portal_pid}" 2>/dev/null || { cat "${log}" >&2; say "the demo portal exited"; exit 1; }
  sleep 0.1
done
grep -q '^jit portal: demo ready' "${log}" || { cat "${log}" >&2; say "the demo portal did not start"; exit 1; }
url=$(sed -n 's/^jit portal: serving \([^ ]*\).*/\1/p' "${log}" | head -n 1)
say "portal at ${url}"

# Demo passwords: the portal is on loopback and gone when this script ends.
demo_password=demo-password-1
root_password=root-password-1
printf '%s\n' "${demo_password}" | "${jit}" portal --db "${db}" user passwd demo
"${jit}" portal --db "${db}" user add root --admin
printf '%s\n' "${root_password}" | "${jit}" portal --db "${db}" user passwd root

flow() {
  local script=$1
  shift
  say "flow ${script}"
  env "$@" PORTAL_URL="${url}" JIT_SCREENSHOTS="${out}" node "tests/web/${script}.mjs" >/dev/null
}

flow signin USERNAME=demo PASSWORD="${demo_password}" WRONG_PASSWORD=not-the-password
flow csrf USERNAME=demo PASSWORD="${demo_password}"

# The CLI login: `jit aws --interactive` waits while the browser signs in and authorizes.
"${jit}" aws --host "${url}" --tenant demo --interactive --no-browser --no-cache \
  >"${tmp}/creds.json" 2>"${tmp}/login.log" &
login_pid=$!
login_url=""
for _ in $(seq 1 100); do
  login_url=$(grep -o 'http://[^ ]*/app/user/verify-token?[^ ]*' "${tmp}/login.log" | head -n 1 || true)
  [[ -n "${login_url}" ]] && break
  sleep 0.1
done
[[ -n "${login_url}" ]] || { cat "${tmp}/login.log" >&2; say "jit printed no login URL"; exit 1; }
flow cli-login LOGIN_URL="${login_url}" USERNAME=demo PASSWORD="${demo_password}"
wait "${login_pid}"
login_pid=""

# The device login: `jit login --device` waits while a browser types its code and approves.
"${jit}" login --host "${url}" --device 2>"${tmp}/device.log" &
device_pid=$!
device_url=""
device_code=""
for _ in $(seq 1 100); do
  device_url=$(sed -n 's/.*to log in, open \([^ ]*\) on any device.*/\1/p' "${tmp}/device.log" | head -n 1)
  device_code=$(sed -n 's/.*enter the code \([A-Z-]*\).*/\1/p' "${tmp}/device.log" | head -n 1)
  [[ -n "${device_url}" && -n "${device_code}" ]] && break
  sleep 0.1
done
[[ -n "${device_code}" ]] || { cat "${tmp}/device.log" >&2; say "jit printed no device code"; exit 1; }
say "flow device"
DEVICE_URL="${device_url}" CODE="${device_code}" USERNAME=demo PASSWORD="${demo_password}" \
  JIT_SCREENSHOTS="${tmp}/device" node tests/web/device.mjs >/dev/null
cp "${tmp}/device/device-confirm.png" "${out}/"
wait "${device_pid}"
device_pid=""

flow profile USERNAME=demo PASSWORD="${demo_password}"
flow nojs USERNAME=demo PASSWORD="${demo_password}"
flow admin ADMIN_USERNAME=root ADMIN_PASSWORD="${root_password}" TENANT=demo VALIDITY=1800 \
  ADMIN_SESSION=3600
# Access requests: dev, no admin, asks for a tenant it may only request; root approves
# (access-*.png).
dev_password=dev-password-1
"${jit}" portal --db "${db}" tenant add prod --role-arn arn:aws:iam::123456789012:role/prod
"${jit}" portal --db "${db}" user add dev
printf '%s\n' "${dev_password}" | "${jit}" portal --db "${db}" user passwd dev
"${jit}" portal --db "${db}" eligible add prod dev
"${jit}" portal --db "${db}" approver add prod root
flow access REQUESTER=dev REQUESTER_PASSWORD="${dev_password}" APPROVER=root \
  APPROVER_PASSWORD="${root_password}" TARGET_KEY=tenant-prod REASON="deploy 7: migrate the orders table" \
  COMMENT="ok, during the change window"
# Last of the demo user's flows: it leaves `demo` with a second factor (mfa-enrol, mfa-factor).
flow mfa USERNAME=demo PASSWORD="${demo_password}" PYTHON="${venv_bin}/python"

# Single sign-on: the provider must know the portal's callback, so the port is picked first.
say "starting a portal with single sign-on"
sso_port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
sso_url=http://127.0.0.1:${sso_port}
OIDC_REDIRECT_URI="${sso_url}/login/oidc/callback" node tests/web/oidc-provider.mjs \
  >"${tmp}/provider.url" &
provider_pid=$!
issuer=$(first_line "${tmp}/provider.url")
[[ -n "${issuer}" ]] || { say "the OpenID Connect provider did not start"; exit 1; }
sso_db=${tmp}/sso.db
"${jit}" portal --db "${sso_db}" user add alice@example.com
# The provider's default client secret (tests/web/oidc-provider.mjs), from the environment; STS
# is never called for these pages, so made-up AWS keys and a closed port do.
JIT_PORTAL_OIDC_CLIENT_SECRET=jit-portal-secret AWS_ACCESS_KEY_ID=AKIAEXAMPLESSO000000 \
  AWS_SECRET_ACCESS_KEY=not-used "${jit}" portal --db "${sso_db}" serve \
  --listen "127.0.0.1:${sso_port}" --sts-endpoint http://127.0.0.1:9 --oidc-issuer "${issuer}" \
  --oidc-client-id jit-portal --oidc-name "Example SSO" 2>"${tmp}/sso.log" &
sso_pid=$!
for _ in $(seq 1 100); do
  grep -q '^jit portal: serving' "${tmp}/sso.log" && break
  sleep 0.1
done
grep -q '^jit portal: serving' "${tmp}/sso.log" || { cat "${tmp}/sso.log" >&2; say "the SSO portal did not start"; exit 1; }
say "flow oidc"
PORTAL_URL="${sso_url}" OIDC_LOGIN=alice JIT_SCREENSHOTS="${tmp}/sso" node tests/web/oidc.mjs >/dev/null
cp "${tmp}/sso/login-sso.png" "${out}/"

# Passkeys: WebAuthn wants a host name, so this portal's public URL is http://localhost:PORT.
say "starting a portal at localhost for passkeys"
passkeys_port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
passkeys_db=${tmp}/passkeys.db
"${jit}" portal --db "${passkeys_db}" user add demo
printf '%s\n' "${demo_password}" | "${jit}" portal --db "${passkeys_db}" user passwd demo
AWS_ACCESS_KEY_ID=AKIAEXAMPLEPASSKEY00 AWS_SECRET_ACCESS_KEY=not-used "${jit}" portal \
  --db "${passkeys_db}" serve --listen "127.0.0.1:${passkeys_port}" \
  --public-url "http://localhost:${passkeys_port}" --sts-endpoint http://127.0.0.1:9 \
  2>"${tmp}/passkeys.log" &
passkeys_pid=$!
for _ in $(seq 1 100); do
  grep -q '^jit portal: serving' "${tmp}/passkeys.log" && break
  sleep 0.1
done
grep -q '^jit portal: serving' "${tmp}/passkeys.log" || { cat "${tmp}/passkeys.log" >&2; say "the passkeys portal did not start"; exit 1; }
say "flow passkeys"
PORTAL_URL="http://localhost:${passkeys_port}" USERNAME=demo PASSWORD="${demo_password}" \
  JIT_SCREENSHOTS="${tmp}/passkeys" node tests/web/passkeys.mjs >/dev/null
cp "${tmp}/passkeys/passkeys-profile.png" "${tmp}/passkeys/passkeys-factor.png" "${out}/"

shots=("${out}"/*.png)
say "${#shots[@]} screenshots in ${out}"
