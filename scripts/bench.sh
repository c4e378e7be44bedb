#!/usr/bin/env bash
# Benchmarks (not tests): cache-hit latency of `jit aws`, `jit exec` overhead, `jit exec --server`
# start-up overhead and request latency, and the per-prompt cost of the shell indicator.
# Needs hyperfine, zsh (apt). Usage: scripts/bench.sh [path/to/jit]
set -euo pipefail
cd "$(dirname "$0")/.."
jit=${1:-}
if [[ -z "${jit}" ]]; then
  cargo build --release --quiet
  jit=${PWD}/target/release/jit
fi
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
export XDG_CACHE_HOME=${work}/cache XDG_CONFIG_HOME=${work}/config HOME=${work}
unset JIT_ENV JIT_VERBOSE

# A cache entry valid for an hour, so every call below is a hit and nothing touches a network.
host=portal.bench.invalid
mkdir -p "${XDG_CACHE_HOME}/jit" "${XDG_CONFIG_HOME}/jit"
chmod 700 "${XDG_CACHE_HOME}/jit"
now=$(date +%s)
exp=$(date -u -d "@$((now + 3600))" +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version":1,"ConsoleUrl":"","AccessKeyId":"ASIABENCH00000000000","SecretAccessKey":"s","Region":"us-east-1","SessionToken":"t","Expiration":"%s","Host":"https://%s","Scope":"admin","TenantId":null,"FetchedAt":%s}' \
  "${exp}" "${host}" "${now}" >"${XDG_CACHE_HOME}/jit/${host},admin,aws-creds.json"
printf '[env.bench]\nhost = "https://%s"\nadmin = true\nauth = "token"\n' "${host}" >"${XDG_CONFIG_HOME}/jit/config.toml"
export JIT_TOKEN=bench-token-unused

"${jit}" aws --admin --host "https://${host}" >/dev/null
echo "== jit aws, cache hit, vs process start (/bin/true)"
hyperfine -N --warmup 50 --runs 1000 --export-json "${work}/aws.json" \
  "/bin/true" "${jit} aws --admin --host https://${host}"
echo "== jit exec overhead over running the child directly"
hyperfine -N --warmup 50 --runs 1000 --export-json "${work}/exec.json" \
  "/bin/true" "${jit} exec bench -- /bin/true"
echo "== jit exec --server start-up overhead over plain jit exec"
hyperfine -N --warmup 50 --runs 1000 --export-json "${work}/server.json" \
  "${jit} exec bench -- /bin/true" "${jit} exec --server bench -- /bin/true"
python3 - "${work}/aws.json" "${work}/exec.json" "${work}/server.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))["results"]
    base, jit = r[0]["median"] * 1e3, r[1]["median"] * 1e3
    print(f"{r[1]['command']}: median {jit:.2f} ms; {r[0]['command']} {base:.2f} ms; overhead {jit - base:.2f} ms")
PY

echo "== jit exec --server: one credentials request, timed by a client in the child"
# A new connection per request, as SDKs make them; answered from memory (the cache is warm).
"${jit}" exec --server bench -- python3 - <<'PY'
import http.client, os, time, urllib.parse
url = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
auth = {"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}
times = []
for i in range(5100):
    start = time.perf_counter()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", url.path, headers=auth)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200, (resp.status, body)
    if i >= 100:
        times.append(time.perf_counter() - start)
times.sort()
pick = lambda q: times[int(len(times) * q)] * 1e3
print(f"credentials request: median {pick(0.5):.3f} ms, p99 {pick(0.99):.3f} ms ({len(times)} requests)")
PY

echo "== jit k8s, cache hit, vs aws eks get-token (kubectl runs the plugin for every command)"
printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://k8s.bench.invalid","insecure-skip-tls-verify":true,"config":null},"interactive":false},"status":{"expirationTimestamp":"%s","token":"k8s-bench"}}' \
  "${exp}" >"${XDG_CACHE_HOME}/jit/${host},tenant,dev01,k8s-creds.json"
aws=${PWD}/.venv/bin/aws
if [[ -x "${aws}" ]]; then
  AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 \
    hyperfine -N --warmup 3 --runs 30 --export-json "${work}/eks.json" \
    "${aws} eks get-token --cluster-name bench"
fi
hyperfine -N --warmup 50 --runs 1000 --export-json "${work}/k8s.json" \
  "${jit} k8s --tenant dev01 --host https://${host}"
python3 - "${work}/k8s.json" "${work}/eks.json" <<'PY'
import json, os, sys
jit = json.load(open(sys.argv[1]))["results"][0]["median"] * 1e3
line = f"jit k8s cache hit: median {jit:.2f} ms"
if os.path.exists(sys.argv[2]):
    eks = json.load(open(sys.argv[2]))["results"][0]["median"] * 1e3
    line += f"; aws eks get-token {eks:.1f} ms; {eks / jit:.0f}x faster"
print(line)
PY

echo "== prompt indicator, per prompt (10000 prompts in one shell: no fork allowed)"
bash --norc --noprofile -c "eval \"\$('${jit}' init bash)\"; export JIT_ENV=bench JIT_EXPIRES=$((now + 3600));
  s=\${EPOCHREALTIME}; for ((i = 0; i < 10000; i++)); do __jit_prompt_hook; done; e=\${EPOCHREALTIME}
  echo \"bash: \$(( (\${e/./} - \${s/./}) / 10000 )) us per prompt -> \${__jit_ps1}\""
zsh --no-rcs -c "eval \"\$('${jit}' init zsh)\"; export JIT_ENV=bench JIT_EXPIRES=$((now + 3600)); zmodload zsh/datetime
  s=\${EPOCHREALTIME}; for ((i = 0; i < 10000; i++)); do __jit_prompt_hook; done; e=\${EPOCHREALTIME}
  printf 'zsh: %d us per prompt -> %s\n' \$(( (e - s) * 1e6 / 10000 )) \"\${__jit_prompt}\""
