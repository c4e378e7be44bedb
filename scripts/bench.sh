#!/usr/bin/env bash
# Benchmarks (not tests): cache-hit latency of `jit aws`, `jit exec` overhead, and the per-prompt
# cost of the shell indicator. Needs hyperfine, zsh (apt). Usage: scripts/bench.sh [path/to/jit]
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
python3 - "${work}/aws.json" "${work}/exec.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))["results"]
    base, jit = r[0]["median"] * 1e3, r[1]["median"] * 1e3
    print(f"{r[1]['command']}: median {jit:.2f} ms; /bin/true {base:.2f} ms; overhead {jit - base:.2f} ms")
PY

echo "== prompt indicator, per prompt (10000 prompts in one shell: no fork allowed)"
bash --norc --noprofile -c "eval \"\$('${jit}' init bash)\"; export JIT_ENV=bench JIT_EXPIRES=$((now + 3600));
  s=\${EPOCHREALTIME}; for ((i = 0; i < 10000; i++)); do __jit_prompt_hook; done; e=\${EPOCHREALTIME}
  echo \"bash: \$(( (\${e/./} - \${s/./}) / 10000 )) us per prompt -> \${__jit_ps1}\""
zsh --no-rcs -c "eval \"\$('${jit}' init zsh)\"; export JIT_ENV=bench JIT_EXPIRES=$((now + 3600)); zmodload zsh/datetime
  s=\${EPOCHREALTIME}; for ((i = 0; i < 10000; i++)); do __jit_prompt_hook; done; e=\${EPOCHREALTIME}
  printf 'zsh: %d us per prompt -> %s\n' \$(( (e - s) * 1e6 / 10000 )) \"\${__jit_prompt}\""
