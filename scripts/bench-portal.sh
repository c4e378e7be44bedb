#!/usr/bin/env bash
# Benchmarks (not tests) of the self-hosted portal, on loopback only, bounded in time:
# authenticated token checks per second (fresh, and after 17,500 browser logins), vends per
# second against moto, and idle connections held. Needs wrk (apt) and .venv (scripts/test-deps.sh).
# Usage: scripts/bench-portal.sh [path/to/jit-portal]
set -euo pipefail
cd "$(dirname "$0")/.."
portal=${1:-}
if [[ -z "${portal}" ]]; then
  cargo build --release --quiet -p jit-portal
  portal=${PWD}/target/release/jit-portal
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  rm -rf "${work}"
}
trap cleanup EXIT
export HOME=${work} XDG_DATA_HOME=${work}/data XDG_CONFIG_HOME=${work}/config JIT_PORTAL_DB=${work}/portal.db
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

moto_port=$(free_port)
venv=${PWD}/.venv
# moto's request recorder writes into its working directory.
(cd "${work}" && exec "${venv}/bin/moto_server" -H 127.0.0.1 -p "${moto_port}" >/dev/null 2>&1) &
pids+=($!)
"${portal}" tenant add dev01 --role-arn arn:aws:iam::111111111111:role/dev01 2>/dev/null
"${portal}" user add alice --tenant dev01 2>/dev/null
token=$("${portal}" token create alice 2>/dev/null)
tenant_id=$("${portal}" tenant list | cut -f2)
port=$(free_port)
AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench "${portal}" serve --listen "127.0.0.1:${port}" \
  --sts-endpoint "http://127.0.0.1:${moto_port}" --signin-url "http://127.0.0.1:1/none" 2>"${work}/portal.log" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:${port}/healthz" && curl -s -o /dev/null "http://127.0.0.1:${moto_port}/" && break
  sleep 0.2
done
url=http://127.0.0.1:${port}
# The token goes to wrk in a script file and to python in the environment, never in argv.
umask 077
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "${token}" >"${work}/auth.lua"
export BENCH_TOKEN=${token}

# Requests per second, and the portal's own CPU time per request (utime + stime from /proc over
# the run): on a small shared machine, where wrk competes for the same cores, the second is the
# steadier figure.
portal_pid=${pids[1]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/${portal_pid}/stat"; }
measure() {
  local before after out hz
  hz=$(getconf CLK_TCK)
  before=$(cpu_ticks)
  out=$(wrk "$@")
  after=$(cpu_ticks)
  grep -E 'Requests/sec|Non-2xx|Socket errors' <<<"${out}" || true
  awk -v t=$((after - before)) -v hz="${hz}" '/requests in/ {
    n = $1; if (n > 0) printf "Portal CPU per request: %.1f us\n", t / hz * 1e6 / n }' <<<"${out}"
}

echo "== token checks (GET /v3/features/system), 10 s, 50 connections"
measure -t2 -c50 -d10s -s "${work}/auth.lua" "${url}/v3/features/system"

echo "== 17,500 browser logins, each minting a token (bounded to 60 s)"
python3 - "${url}" <<'PY'
import os, sys, time, urllib.parse, http.client
url, token = sys.argv[1], os.environ["BENCH_TOKEN"]
host = url.split("//")[1]
conn = http.client.HTTPConnection(host)
body = urllib.parse.urlencode({"localPort": "45678", "action": "authorize", "token": token})
start, n = time.time(), 0
while n < 17500 and time.time() - start < 60:
    conn.request("POST", "/app/user/verify-token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse(); r.read()
    n += r.status == 303
print(f"{n} logins in {time.time() - start:.1f} s")
PY
echo "== token checks again, 10 s, 50 connections"
measure -t2 -c50 -d10s -s "${work}/auth.lua" "${url}/v3/features/system"

echo "== vends against moto (GET /subscriptions/ID/GetAwsConsoleTokenUrl), 10 s, 8 connections"
measure -t2 -c8 -d10s -s "${work}/auth.lua" "${url}/subscriptions/${tenant_id}/GetAwsConsoleTokenUrl"

echo "== idle connections held (10,000 opened, held 3 s, then a request)"
python3 - "${port}" <<'PY'
import resource, socket, sys, time, urllib.request
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 12000), hard))
socks = []
for _ in range(10000):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port)); socks.append(s)
    except OSError:
        s.close()
time.sleep(3)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        alive += s.recv(1) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
print(f"{len(socks)} connected, {alive} still open after 3 s idle; /healthz answered {ok}")
PY
kill -0 "${pids[1]}" && echo "portal still running"
