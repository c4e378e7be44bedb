# jit shell hook for bash. Load it with:  eval "$(jit init bash)"
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time.
# shellcheck shell=bash

# The placeholder becomes the quoted path of the jit binary.
# shellcheck disable=SC1083
__jit_bin={{jit}}

__jit_vars=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
    AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION JIT_ENV JIT_EXPIRES JIT_ENDPOINT_URL)

# jitnow [--console] [--no-cache] [--refresh] ENV: put ENV's credentials in this shell.
# Returns 0 once they are in place, jit's status when it fails, 2 on a usage mistake.
jitnow() {
    local __jit_arg __jit_env="" __jit_console=0 __jit_code
    local -a __jit_flags=()
    for __jit_arg in "$@"; do
        case "${__jit_arg}" in
            --console) __jit_console=1 ;;
            --no-cache | --refresh) __jit_flags+=("${__jit_arg}") ;;
            -h | --help)
                \builtin printf '%s\n' "usage: jitnow [--console] [--no-cache] [--refresh] ENV" "       jitoff"
                return 0 ;;
            -*) \builtin printf 'jitnow: unknown option %s\n' "${__jit_arg}" >&2; return 2 ;;
            *) __jit_env=${__jit_arg} ;;
        esac
    done
    if [[ -z "${__jit_env}" ]]; then
        \builtin printf '%s\n' "usage: jitnow [--console] [--no-cache] [--refresh] ENV" >&2
        return 2
    fi
    if [[ "${__jit_console}" = 1 ]]; then
        "${__jit_bin}" console "${__jit_env}" "${__jit_flags[@]}"
        return
    fi
    # Fetch first: on failure the shell keeps what it had. The code unsets whatever jit manages
    # and this environment does not set, so nothing of the previous one is left.
    __jit_code=$("${__jit_bin}" env "${__jit_env}" --format sh "${__jit_flags[@]}") || return
    \builtin eval "${__jit_code}"
}

# jitoff: forget the credentials jitnow set.
jitoff() {
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if [[ -n "${JIT_ENDPOINT_URL-}" && "${AWS_ENDPOINT_URL-}" = "${JIT_ENDPOINT_URL}" ]]; then
        \builtin unset AWS_ENDPOINT_URL
    fi
    \builtin unset "${__jit_vars[@]}"
}

# The prompt part, from JIT_EXPIRES and the shell's own clock: no process is started.
__jit_prompt_hook() {
    local __jit_status=$? __jit_now __jit_left
    __jit_ps1=""
    # Only digits reach the arithmetic below: bash evaluates a variable's text as an expression.
    if [[ "${JIT_PROMPT-1}" != 0 && "${JIT_EXPIRES-}" =~ ^[0-9]{1,18}$ ]]; then
        if [[ -n "${EPOCHSECONDS-}" ]]; then
            __jit_now=${EPOCHSECONDS}
        else
            \builtin printf -v __jit_now '%(%s)T' -1
        fi
        __jit_left=$((JIT_EXPIRES - __jit_now))
        if ((__jit_left <= 0)); then
            __jit_ps1=$'\001\e[31m\002['"${JIT_ENV-jit}"$' expired]\001\e[0m\002 '
        elif ((__jit_left < 60)); then
            __jit_ps1=$'\001\e[33m\002['"${JIT_ENV-jit} ${__jit_left}s!"$']\001\e[0m\002 '
        elif ((__jit_left < 600)); then
            __jit_ps1=$'\001\e[33m\002['"${JIT_ENV-jit} $((__jit_left / 60))m!"$']\001\e[0m\002 '
        else
            __jit_ps1=$'\001\e[36m\002['"${JIT_ENV-jit} $((__jit_left / 60))m"$']\001\e[0m\002 '
        fi
    fi
    return "${__jit_status}"
}

# Install once, however often this file is sourced.
if [[ ${PROMPT_COMMAND-} != *__jit_prompt_hook* ]]; then
    PROMPT_COMMAND="__jit_prompt_hook${PROMPT_COMMAND:+;${PROMPT_COMMAND}}"
fi
# shellcheck disable=SC2016
if [[ ${PS1-} != *'${__jit_ps1}'* ]]; then
    PS1='${__jit_ps1}'"${PS1-}"
fi

__jit_complete_env() {
    local __jit_line __jit_names=()
    # Tab completion may fork: it runs when a person presses Tab, not at every prompt.
    # shellcheck disable=SC2312
    while IFS=$'\t' \builtin read -r __jit_line _; do
        __jit_names+=("${__jit_line}")
    done < <("${__jit_bin}" config list 2>/dev/null)
    # shellcheck disable=SC2312
    \builtin mapfile -t COMPREPLY < <(\builtin compgen -W "${__jit_names[*]} --console --no-cache --refresh" -- "${COMP_WORDS[COMP_CWORD]}")
}
\builtin complete -F __jit_complete_env jitnow
