# jit shell hook for bash. Load it with:  eval "$(jit init bash)"
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time. With
# JIT_AUTO_RENEW=1 (or after `jitnow --renew ENV`) the prompt renews the credentials once fewer
# than JIT_REFRESH_WINDOW seconds (default 900) remain: the only prompt that starts a process.
# shellcheck shell=bash

# The placeholder becomes the quoted path of the jit binary.
# shellcheck disable=SC1083
__jit_bin={{jit}}

__jit_vars=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
    AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION JIT_ENV JIT_EXPIRES JIT_GRANT_END JIT_ENDPOINT_URL)

# jitnow [--console] [--no-cache] [--refresh] [--renew] ENV: put ENV's credentials in this shell.
# Returns 0 once they are in place, jit's status when it fails, 2 on a usage mistake.
jitnow() {
    local __jit_arg __jit_env="" __jit_console=0 __jit_renew_on=0 __jit_code
    local -a __jit_flags=()
    for __jit_arg in "$@"; do
        case "${__jit_arg}" in
            --console) __jit_console=1 ;;
            --no-cache | --refresh) __jit_flags+=("${__jit_arg}") ;;
            --renew) __jit_renew_on=1 ;;
            -h | --help)
                \builtin printf '%s\n' "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV" "       jitoff"
                return 0 ;;
            -*) \builtin printf 'jitnow: unknown option %s\n' "${__jit_arg}" >&2; return 2 ;;
            *) __jit_env=${__jit_arg} ;;
        esac
    done
    if [[ -z "${__jit_env}" ]]; then
        \builtin printf '%s\n' "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV" >&2
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
    __jit_renew_failed=0
    __jit_renew_next=0
    if [[ "${__jit_renew_on}" = 1 ]]; then
        __jit_renew=1
    fi
}

# jitoff: forget the credentials jitnow set.
jitoff() {
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if [[ -n "${JIT_ENDPOINT_URL-}" && "${AWS_ENDPOINT_URL-}" = "${JIT_ENDPOINT_URL}" ]]; then
        \builtin unset AWS_ENDPOINT_URL
    fi
    \builtin unset "${__jit_vars[@]}"
    __jit_renew=0
    __jit_renew_failed=0
}

# Whether $1 is 1 to $2 digits and nothing else. A glob, not `=~`: bash compiles a regex on every
# use, which costs more than the rest of the prompt together.
__jit_digits() {
    [[ -n "$1" && "$1" != *[!0-9]* && ${#1} -le $2 ]]
}

# Renew the session's credentials from the prompt: quietly (jit's messages go nowhere), at most
# once a minute, and only while renewal is on and fewer than the refresh window's seconds remain.
# This is the one prompt path that starts a process. Credentials that end with their access grant
# (JIT_GRANT_END) are not renewed, nor any in a grant's last 900 s: the portal vends nothing past
# a grant's end, and no credentials shorter than the 15 minutes AWS credentials last at least.
__jit_renew_maybe() {
    local __jit_now=$1 __jit_expires=$2 __jit_window=900 __jit_code
    [[ "${JIT_AUTO_RENEW-}" = 1 || "${__jit_renew-0}" = 1 ]] || return 0
    [[ -n "${JIT_ENV-}" ]] || return 0
    if __jit_digits "${JIT_GRANT_END-}" 18; then
        ((__jit_expires < 10#${JIT_GRANT_END} && 10#${JIT_GRANT_END} - __jit_now >= 900)) || return 0
    fi
    if __jit_digits "${JIT_REFRESH_WINDOW-}" 9; then
        __jit_window=$((10#${JIT_REFRESH_WINDOW}))
    fi
    ((__jit_expires - __jit_now < __jit_window && __jit_now >= ${__jit_renew_next:-0})) || return 0
    __jit_renew_next=$((__jit_now + 60))
    # --refresh: the cache would answer with these same credentials (it serves short-lived ones
    # for half their life), or with them as a stand-in while the portal is down.
    if __jit_code=$("${__jit_bin}" env "${JIT_ENV}" --format sh --refresh </dev/null 2>/dev/null); then
        \builtin eval "${__jit_code}"
        __jit_renew_failed=0
    else
        __jit_renew_failed=1
    fi
}

# The prompt part, from JIT_EXPIRES (or, for credentials riding an access grant with renewal on,
# JIT_GRANT_END; marked ` grant` either way) and the shell's own clock: no process is started
# unless a renewal is due.
__jit_prompt_hook() {
    local __jit_status=$? __jit_now __jit_left __jit_text __jit_color __jit_mark="" __jit_tail=""
    __jit_ps1=""
    # Only digits reach the arithmetic below: bash evaluates a variable's text as an expression.
    # Renewal does not need the indicator: JIT_PROMPT=0 turns off only the latter.
    if __jit_digits "${JIT_EXPIRES-}" 18; then
        if [[ -n "${EPOCHSECONDS-}" ]]; then
            __jit_now=${EPOCHSECONDS}
        else
            \builtin printf -v __jit_now '%(%s)T' -1
        fi
        __jit_digits "${__jit_renew_next-0}" 18 || __jit_renew_next=0
        __jit_renew_maybe "${__jit_now}" "${JIT_EXPIRES}"
        # Renewed code set JIT_EXPIRES anew: only digits, again.
        [[ "${JIT_PROMPT-1}" != 0 ]] && __jit_digits "${JIT_EXPIRES-}" 18 || return "${__jit_status}"
        __jit_left=$((JIT_EXPIRES - __jit_now))
        # Under a grant, marked so; with renewal on the count is the grant's (renewals keep the
        # credentials going until then), with it off the credentials' own.
        if ((__jit_left > 0)) && __jit_digits "${JIT_GRANT_END-}" 18; then
            __jit_tail=" grant"
            if [[ "${JIT_AUTO_RENEW-}" = 1 || "${__jit_renew-0}" = 1 ]]; then
                __jit_left=$((10#${JIT_GRANT_END} - __jit_now))
            fi
        fi
        if ((__jit_left <= 0)); then
            __jit_color=31 __jit_text=expired __jit_tail=""
        elif ((__jit_left < 60)); then
            __jit_color=33 __jit_text="${__jit_left}s" __jit_mark="!"
        elif ((__jit_left < 600)); then
            __jit_color=33 __jit_text="$((__jit_left / 60))m" __jit_mark="!"
        else
            __jit_color=36 __jit_text="$((__jit_left / 60))m"
        fi
        if [[ "${__jit_renew_failed-0}" = 1 ]]; then
            __jit_color=31 __jit_mark="" __jit_tail+=" renew failed"
        fi
        __jit_text+="${__jit_mark}${__jit_tail}"
        __jit_ps1=$'\001\e['"${__jit_color}"$'m\002['"${JIT_ENV-jit} ${__jit_text}"$']\001\e[0m\002 '
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
    \builtin mapfile -t COMPREPLY < <(\builtin compgen -W "${__jit_names[*]} --console --no-cache --refresh --renew" -- "${COMP_WORDS[COMP_CWORD]}")
}
\builtin complete -F __jit_complete_env jitnow
