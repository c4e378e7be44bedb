# jit shell hook for zsh. Load it with:  eval "$(jit init zsh)"
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time.

typeset -g __jit_bin={{jit}}
typeset -ga __jit_vars=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION
    AWS_DEFAULT_REGION AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION JIT_ENV JIT_EXPIRES JIT_ENDPOINT_URL)

# jitnow [--console] [--no-cache] [--refresh] ENV: put ENV's credentials in this shell.
# Returns 0 once they are in place, jit's status when it fails, 2 on a usage mistake.
function jitnow() {
    \builtin emulate -L zsh
    local arg env="" console=0 code
    local -a flags
    for arg in "$@"; do
        case "$arg" in
            --console) console=1 ;;
            --no-cache|--refresh) flags+=("$arg") ;;
            -h|--help) \builtin print -r -- "usage: jitnow [--console] [--no-cache] [--refresh] ENV"; return 0 ;;
            -*) \builtin print -ru2 -- "jitnow: unknown option $arg"; return 2 ;;
            *) env=$arg ;;
        esac
    done
    if [[ -z $env ]]; then
        \builtin print -ru2 -- "usage: jitnow [--console] [--no-cache] [--refresh] ENV"
        return 2
    fi
    if (( console )); then
        "$__jit_bin" console "$env" "${flags[@]}"
        return
    fi
    # Fetch first: on failure the shell keeps what it had. The code unsets whatever jit manages
    # and this environment does not set, so nothing of the previous one is left.
    code=$("$__jit_bin" env "$env" --format sh "${flags[@]}") || return
    \builtin eval "$code"
}

# jitoff: forget the credentials jitnow set.
function jitoff() {
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if [[ -n ${JIT_ENDPOINT_URL-} && ${AWS_ENDPOINT_URL-} == "$JIT_ENDPOINT_URL" ]]; then
        \builtin unset AWS_ENDPOINT_URL
    fi
    \builtin unset "${__jit_vars[@]}"
}

\builtin zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null

# The prompt part, from JIT_EXPIRES and EPOCHSECONDS: no process is started.
function __jit_prompt_hook() {
    \builtin emulate -L zsh
    local -i left
    typeset -g __jit_prompt=""
    # Only digits reach the arithmetic below: zsh evaluates a variable's text as an expression.
    [[ ${JIT_PROMPT-1} != 0 && ${JIT_EXPIRES-} == <-> ]] || return 0
    left=$(( JIT_EXPIRES - EPOCHSECONDS ))
    # %-escapes in the name would be read as prompt codes.
    local name=${${JIT_ENV-jit}//\%/%%}
    if (( left <= 0 )); then
        __jit_prompt="%F{red}[$name expired]%f "
    elif (( left < 60 )); then
        __jit_prompt="%F{yellow}[$name ${left}s!]%f "
    elif (( left < 600 )); then
        __jit_prompt="%F{yellow}[$name $(( left / 60 ))m!]%f "
    else
        __jit_prompt="%F{cyan}[$name $(( left / 60 ))m]%f "
    fi
}

# Install once, however often this file is sourced; precmd hooks keep $? for the user's prompt.
\builtin autoload -Uz add-zsh-hook
add-zsh-hook -d precmd __jit_prompt_hook
add-zsh-hook precmd __jit_prompt_hook
\builtin setopt prompt_subst
if [[ ${PROMPT-} != *'${__jit_prompt}'* ]]; then
    PROMPT='${__jit_prompt}'"${PROMPT-}"
fi

function __jit_complete_env() {
    local -a names
    names=(${${(f)"$("$__jit_bin" config list 2>/dev/null)"}%%$'\t'*})
    _arguments '--console[open the AWS console]' '--no-cache[do not use the cache]' \
        '--refresh[fetch new credentials]' "1:environment:(${names[*]})"
}
# Before compinit there is no compdef yet; the hook must still end with status 0.
if (( $+functions[compdef] )); then
    compdef __jit_complete_env jitnow
fi
