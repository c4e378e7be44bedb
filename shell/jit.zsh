# jit shell hook for zsh. Load it with:  eval "$(jit init zsh)"
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time. With
# JIT_AUTO_RENEW=1 (or after `jitnow --renew ENV`) the prompt renews the credentials once fewer
# than JIT_REFRESH_WINDOW seconds (default 900) remain: the only prompt that starts a process.

typeset -g __jit_bin={{jit}}
typeset -ga __jit_vars=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION
    AWS_DEFAULT_REGION AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION JIT_ENV JIT_EXPIRES JIT_GRANT_END
    JIT_ENDPOINT_URL)

# jitnow [--console] [--no-cache] [--refresh] [--renew] ENV: put ENV's credentials in this shell.
# Returns 0 once they are in place, jit's status when it fails, 2 on a usage mistake.
function jitnow() {
    \builtin emulate -L zsh
    local arg env="" console=0 renew=0 code
    local -a flags
    for arg in "$@"; do
        case "$arg" in
            --console) console=1 ;;
            --no-cache|--refresh) flags+=("$arg") ;;
            --renew) renew=1 ;;
            -h|--help) \builtin print -r -- "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV"; return 0 ;;
            -*) \builtin print -ru2 -- "jitnow: unknown option $arg"; return 2 ;;
            *) env=$arg ;;
        esac
    done
    if [[ -z $env ]]; then
        \builtin print -ru2 -- "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV"
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
    typeset -g __jit_renew_failed=0 __jit_renew_next=0
    (( renew )) && typeset -g __jit_renew=1
    return 0
}

# jitoff: forget the credentials jitnow set.
function jitoff() {
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if [[ -n ${JIT_ENDPOINT_URL-} && ${AWS_ENDPOINT_URL-} == "$JIT_ENDPOINT_URL" ]]; then
        \builtin unset AWS_ENDPOINT_URL
    fi
    \builtin unset "${__jit_vars[@]}"
    typeset -g __jit_renew=0 __jit_renew_failed=0
}

\builtin zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null

# Renew the session's credentials from the prompt: quietly (jit's messages go nowhere), at most
# once a minute, and only while renewal is on and fewer than the refresh window's seconds remain.
# This is the one prompt path that starts a process. Credentials that end with their access grant
# (JIT_GRANT_END) are not renewed, nor any in a grant's last 900 s: the portal vends nothing past
# a grant's end, and no credentials shorter than the 15 minutes AWS credentials last at least.
function __jit_renew_maybe() {
    \builtin emulate -L zsh
    local -i window=900 next=0
    local code
    [[ ${JIT_AUTO_RENEW-} == 1 || ${__jit_renew-0} == 1 ]] || return 0
    [[ -n ${JIT_ENV-} ]] || return 0
    if [[ ${JIT_GRANT_END-} == <-> && ${#JIT_GRANT_END} -le 18 ]]; then
        (( JIT_EXPIRES < 10#$JIT_GRANT_END && 10#$JIT_GRANT_END - EPOCHSECONDS >= 900 )) || return 0
    fi
    [[ ${JIT_REFRESH_WINDOW-} == <-> && ${#JIT_REFRESH_WINDOW} -le 9 ]] && window=$(( 10#$JIT_REFRESH_WINDOW ))
    [[ ${__jit_renew_next-} == <-> && ${#__jit_renew_next} -le 18 ]] && next=$__jit_renew_next
    (( JIT_EXPIRES - EPOCHSECONDS < window && EPOCHSECONDS >= next )) || return 0
    typeset -g __jit_renew_next=$(( EPOCHSECONDS + 60 ))
    # --refresh: the cache would answer with these same credentials (it serves short-lived ones
    # for half their life), or with them as a stand-in while the portal is down.
    if code=$("$__jit_bin" env "$JIT_ENV" --format sh --refresh </dev/null 2>/dev/null); then
        \builtin eval "$code"
        typeset -g __jit_renew_failed=0
    else
        typeset -g __jit_renew_failed=1
    fi
    return 0
}

# The prompt part, from JIT_EXPIRES (or, for credentials riding an access grant with renewal on,
# JIT_GRANT_END; marked ` grant` either way) and EPOCHSECONDS: no process is started unless a
# renewal is due.
function __jit_prompt_hook() {
    \builtin emulate -L zsh
    local -i left
    local text color mark="" tail=""
    typeset -g __jit_prompt=""
    # Only digits reach the arithmetic below: zsh evaluates a variable's text as an expression.
    [[ ${JIT_EXPIRES-} == <-> ]] || return 0
    # Renewal does not need the indicator: JIT_PROMPT=0 turns off only the latter.
    __jit_renew_maybe
    # Renewed code set JIT_EXPIRES anew: only digits, again.
    [[ ${JIT_PROMPT-1} != 0 && ${JIT_EXPIRES-} == <-> ]] || return 0
    left=$(( JIT_EXPIRES - EPOCHSECONDS ))
    # %-escapes in the name would be read as prompt codes.
    local name=${${JIT_ENV-jit}//\%/%%}
    # Under a grant, marked so; with renewal on the count is the grant's (renewals keep the
    # credentials going until then), with it off the credentials' own.
    if (( left > 0 )) && [[ ${JIT_GRANT_END-} == <-> && ${#JIT_GRANT_END} -le 18 ]]; then
        tail=" grant"
        if [[ ${JIT_AUTO_RENEW-} == 1 || ${__jit_renew-0} == 1 ]]; then
            left=$(( 10#$JIT_GRANT_END - EPOCHSECONDS ))
        fi
    fi
    if (( left <= 0 )); then
        color=red text=expired tail=""
    elif (( left < 60 )); then
        color=yellow text="${left}s" mark="!"
    elif (( left < 600 )); then
        color=yellow text="$(( left / 60 ))m" mark="!"
    else
        color=cyan text="$(( left / 60 ))m"
    fi
    if [[ ${__jit_renew_failed-0} == 1 ]]; then
        color=red mark="" tail+=" renew failed"
    fi
    __jit_prompt="%F{$color}[$name $text$mark$tail]%f "
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
        '--refresh[fetch new credentials]' '--renew[renew from the prompt before they expire]' "1:environment:(${names[*]})"
}
# Before compinit there is no compdef yet; the hook must still end with status 0.
if (( $+functions[compdef] )); then
    compdef __jit_complete_env jitnow
fi
