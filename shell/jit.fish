# jit shell hook for fish. Load it with:  jit init fish | source
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time. With
# JIT_AUTO_RENEW=1 (or after `jitnow --renew ENV`) the prompt renews the credentials once fewer
# than JIT_REFRESH_WINDOW seconds (default 900) remain.

set -g __jit_bin {{jit}}
set -g __jit_vars AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION \
    AWS_DEFAULT_REGION AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION JIT_ENV JIT_EXPIRES JIT_GRANT_END \
    JIT_ENDPOINT_URL

# Returns 0 once the credentials are in place, jit's status when it fails, 2 on a usage mistake.
function jitnow --description 'Put jit credentials for ENV in this shell'
    set -l env
    set -l console 0
    set -l renew 0
    set -l flags
    for arg in $argv
        switch $arg
            case --console
                set console 1
            case --no-cache --refresh
                set -a flags $arg
            case --renew
                set renew 1
            case -h --help
                echo "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV"
                return 0
            case '-*'
                echo "jitnow: unknown option $arg" >&2
                return 2
            case '*'
                set env $arg
        end
    end
    if test -z "$env"
        echo "usage: jitnow [--console] [--no-cache] [--refresh] [--renew] ENV" >&2
        return 2
    end
    if test $console = 1
        $__jit_bin console $env $flags
        return $status
    end
    # Fetch first: on failure the shell keeps what it had. The code unsets whatever jit manages
    # and this environment does not set, so nothing of the previous one is left.
    set -l code ($__jit_bin env $env --format fish $flags)
    or return $status
    string join \n $code | source
    or return $status
    set -g __jit_renew_failed 0
    set -g __jit_renew_next 0
    test $renew = 1; and set -g __jit_renew 1
    return 0
end

function jitoff --description 'Forget the credentials jitnow set'
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if set -q JIT_ENDPOINT_URL; and test "$AWS_ENDPOINT_URL" = "$JIT_ENDPOINT_URL"
        set -e AWS_ENDPOINT_URL
    end
    # `set -e` of a variable that is not set fails with status 4: erase only what is there.
    for var in $__jit_vars
        set -q $var; and set -e $var
    end
    set -g __jit_renew 0
    set -g __jit_renew_failed 0
    return 0
end

# Renew the session's credentials from the prompt: quietly (jit's messages go nowhere), at most
# once a minute, and only while renewal is on and fewer than the refresh window's seconds remain.
# Credentials that end with their access grant (JIT_GRANT_END) are not renewed, nor any in a
# grant's last 900 s: the portal vends nothing past a grant's end, and no credentials shorter than
# the 15 minutes AWS credentials last at least.
function __jit_renew_maybe --argument-names now
    test "$JIT_AUTO_RENEW" = 1; or test "$__jit_renew" = 1; or return 0
    test -n "$JIT_ENV"; or return 0
    if string match -qr '^[0-9]{1,18}$' -- "$JIT_GRANT_END"
        test $JIT_EXPIRES -ge $JIT_GRANT_END; or test (math $JIT_GRANT_END - $now) -lt 900
        and return 0
    end
    set -l window 900
    string match -qr '^[0-9]{1,9}$' -- "$JIT_REFRESH_WINDOW"; and set window $JIT_REFRESH_WINDOW
    set -l next 0
    string match -qr '^[0-9]{1,18}$' -- "$__jit_renew_next"; and set next $__jit_renew_next
    test (math $JIT_EXPIRES - $now) -lt $window; and test $now -ge $next; or return 0
    set -g __jit_renew_next (math $now + 60)
    # --refresh: the cache would answer with these same credentials (it serves short-lived ones
    # for half their life), or with them as a stand-in while the portal is down.
    set -l code ($__jit_bin env $JIT_ENV --format fish --refresh </dev/null 2>/dev/null)
    and string join \n $code | source
    and set -g __jit_renew_failed 0
    or set -g __jit_renew_failed 1
    return 0
end

# fish has no clock of its own: one `date` per prompt, and only while a session is active (and a
# run of jit when a renewal is due). Under an access grant (JIT_GRANT_END) it is marked ` grant`,
# and with renewal on the count is the grant's.
function __jit_prompt_info
    string match -qr '^[0-9]{1,18}$' -- "$JIT_EXPIRES"; or return 0
    # Renewal does not need the indicator: JIT_PROMPT=0 turns off only the latter.
    test "$JIT_PROMPT" != 0; or test "$JIT_AUTO_RENEW" = 1; or test "$__jit_renew" = 1; or return 0
    set -l now (date +%s)
    __jit_renew_maybe $now
    # Renewed code set JIT_EXPIRES anew: only digits, again.
    test "$JIT_PROMPT" != 0; and string match -qr '^[0-9]{1,18}$' -- "$JIT_EXPIRES"; or return 0
    set -l left (math $JIT_EXPIRES - $now)
    set -l tail
    # Under a grant, marked so; with renewal on the count is the grant's (renewals keep the
    # credentials going until then), with it off the credentials' own.
    if test $left -gt 0; and string match -qr '^[0-9]{1,18}$' -- "$JIT_GRANT_END"
        set tail ' grant'
        if test "$JIT_AUTO_RENEW" = 1; or test "$__jit_renew" = 1
            set left (math $JIT_GRANT_END - $now)
        end
    end
    set -l color cyan
    set -l mark
    set -l text (printf '%dm' (math --scale=0 $left / 60))
    if test $left -le 0
        set color red; set text expired; set tail
    else if test $left -lt 60
        set color yellow; set text (printf '%ds' $left); set mark '!'
    else if test $left -lt 600
        set color yellow; set text (printf '%dm' (math --scale=0 $left / 60)); set mark '!'
    end
    if test "$__jit_renew_failed" = 1
        set color red; set mark; set tail "$tail renew failed"
    end
    set_color $color; printf '[%s %s%s%s] ' $JIT_ENV $text "$mark" "$tail"
    set_color normal
end

# Wrap the user's prompt once, however often this file is sourced; $status is kept for it.
if not functions -q __jit_original_fish_prompt
    if functions -q fish_prompt
        functions -c fish_prompt __jit_original_fish_prompt
    else
        function __jit_original_fish_prompt
            printf '%s> ' (prompt_pwd)
        end
    end
    function fish_prompt
        set -l last_status $status
        __jit_prompt_info
        __jit_set_status $last_status
        __jit_original_fish_prompt
    end
end

function __jit_set_status
    return $argv[1]
end

complete -c jitnow -f -a '($__jit_bin config list 2>/dev/null | string replace -r "\t.*" "")'
complete -c jitnow -l console -d 'Open the AWS console'
complete -c jitnow -l no-cache -d 'Do not use the cache'
complete -c jitnow -l refresh -d 'Fetch new credentials'
complete -c jitnow -l renew -d 'Renew from the prompt before they expire'
