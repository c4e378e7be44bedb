# jit shell hook for PowerShell. Load it with:
#   Invoke-Expression (& jit init powershell | Out-String)
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time. With
# $Env:JIT_AUTO_RENEW = '1' (or after `jitnow -Renew ENV`) the prompt renews the credentials once
# fewer than JIT_REFRESH_WINDOW seconds (default 900) remain: the only prompt that starts a process.

$Global:__jit_bin = {{jit}}
$Global:__jit_vars = @('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION',
    'AWS_DEFAULT_REGION', 'AWS_CREDENTIAL_EXPIRATION', 'AWS_SESSION_EXPIRATION', 'JIT_ENV', 'JIT_EXPIRES',
    'JIT_GRANT_END', 'JIT_ENDPOINT_URL')

# Leaves $? True once the credentials are in place, False when jit fails: an advanced function
# that calls $PSCmdlet.WriteError does that for its caller (`jitnow prod && deploy`), where
# Write-Error would not.
function global:jitnow {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string]$Name,
        [switch]$Console,
        [switch]$NoCache,
        [switch]$Refresh,
        [switch]$Renew
    )
    $failure = { param([string]$message)
        [System.Management.Automation.ErrorRecord]::new(
            [System.Exception]::new($message), 'JitNowFailed', 'NotSpecified', $null) }
    if (-not $Name) {
        $PSCmdlet.WriteError((& $failure 'usage: jitnow [-Console] [-NoCache] [-Refresh] [-Renew] ENV'))
        return
    }
    $flags = @()
    if ($NoCache) { $flags += '--no-cache' }
    if ($Refresh) { $flags += '--refresh' }
    if ($Console) {
        & $Global:__jit_bin console $Name @flags
        if ($LASTEXITCODE -ne 0) { $PSCmdlet.WriteError((& $failure "jitnow: jit exited with $LASTEXITCODE")) }
        return
    }
    # Fetch first: on failure the session keeps what it had. The code unsets whatever jit
    # manages and this environment does not set, so nothing of the previous one is left.
    $code = & $Global:__jit_bin env $Name --format powershell @flags
    if ($LASTEXITCODE -ne 0) {
        $PSCmdlet.WriteError((& $failure "jitnow: jit exited with $LASTEXITCODE"))
        return
    }
    Invoke-Expression ($code -join "`n")
    $Global:__jit_renew_failed = $false
    $Global:__jit_renew_next = 0
    if ($Renew) { $Global:__jit_renew = $true }
}

function global:jitoff {
    [CmdletBinding()]
    param()
    # AWS_ENDPOINT_URL only when jit set it (JIT_ENDPOINT_URL marks that).
    if ($Env:JIT_ENDPOINT_URL -and $Env:AWS_ENDPOINT_URL -ceq $Env:JIT_ENDPOINT_URL) {
        Remove-Item -Path Env:AWS_ENDPOINT_URL -ErrorAction SilentlyContinue
    }
    foreach ($name in $Global:__jit_vars) {
        Remove-Item -Path "Env:$name" -ErrorAction SilentlyContinue
    }
    $Global:__jit_renew = $false
    $Global:__jit_renew_failed = $false
}

# Renew the session's credentials from the prompt: quietly (jit's messages go nowhere), at most
# once a minute, and only while renewal is on and fewer than the refresh window's seconds remain.
# This is the one prompt path that starts a process; the user's $LASTEXITCODE is kept.
# Credentials that end with their access grant (JIT_GRANT_END) are not renewed, nor any in a
# grant's last 900 s: the portal vends nothing past a grant's end, and no credentials shorter than
# the 15 minutes AWS credentials last at least.
function global:__jit_renew_maybe([int64]$now) {
    if ($Env:JIT_AUTO_RENEW -ne '1' -and -not $Global:__jit_renew) { return }
    if (-not $Env:JIT_ENV) { return }
    if ($Env:JIT_GRANT_END -match '^[0-9]{1,18}$') {
        $grantEnd = [int64]$Env:JIT_GRANT_END
        if ([int64]$Env:JIT_EXPIRES -ge $grantEnd -or $grantEnd - $now -lt 900) { return }
    }
    $window = 900
    if ($Env:JIT_REFRESH_WINDOW -match '^[0-9]{1,9}$') { $window = [int64]$Env:JIT_REFRESH_WINDOW }
    $next = 0
    if ("$Global:__jit_renew_next" -match '^[0-9]{1,18}$') { $next = [int64]$Global:__jit_renew_next }
    if ([int64]$Env:JIT_EXPIRES - $now -ge $window -or $now -lt $next) { return }
    $Global:__jit_renew_next = $now + 60
    $lastExit = $Global:LASTEXITCODE
    try {
        # --refresh: the cache would answer with these same credentials (it serves short-lived
        # ones for half their life), or with them as a stand-in while the portal is down.
        $code = & $Global:__jit_bin env $Env:JIT_ENV --format powershell --refresh 2>$null
        if ($LASTEXITCODE -eq 0) {
            Invoke-Expression ($code -join "`n")
            $Global:__jit_renew_failed = $false
        } else {
            $Global:__jit_renew_failed = $true
        }
    } catch {
        $Global:__jit_renew_failed = $true
    } finally {
        $Global:LASTEXITCODE = $lastExit
    }
}

# The prompt part, from JIT_EXPIRES (or, for credentials riding an access grant with renewal on,
# JIT_GRANT_END; marked ` grant` either way) and .NET's clock: no process is started unless a
# renewal is due.
function global:__jit_prompt_info {
    if ($Env:JIT_EXPIRES -notmatch '^[0-9]{1,18}$') { return '' }
    $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    # Renewal does not need the indicator: JIT_PROMPT=0 turns off only the latter.
    __jit_renew_maybe $now
    # Renewed code set JIT_EXPIRES anew: only digits, again.
    if ($Global:JIT_PROMPT -eq '0' -or $Env:JIT_EXPIRES -notmatch '^[0-9]{1,18}$') { return '' }
    $left = [int64]$Env:JIT_EXPIRES - $now
    $tail = ''
    # Under a grant, marked so; with renewal on the count is the grant's (renewals keep the
    # credentials going until then), with it off the credentials' own.
    if ($left -gt 0 -and $Env:JIT_GRANT_END -match '^[0-9]{1,18}$') {
        $tail = ' grant'
        if ($Env:JIT_AUTO_RENEW -eq '1' -or $Global:__jit_renew) {
            $left = [int64]$Env:JIT_GRANT_END - $now
        }
    }
    $esc = [char]27
    $minutes = [math]::Floor($left / 60)
    $color = 36; $text = "${minutes}m"; $mark = ''
    if ($left -lt 600) { $color = 33; $text = "${minutes}m"; $mark = '!' }
    if ($left -lt 60) { $color = 33; $text = "${left}s"; $mark = '!' }
    if ($left -le 0) { $color = 31; $text = 'expired'; $mark = ''; $tail = '' }
    if ($Global:__jit_renew_failed) { $color = 31; $mark = ''; $tail += ' renew failed' }
    return "$esc[${color}m[$($Env:JIT_ENV) $text$mark$tail]$esc[0m "
}

# Wrap the user's prompt once, however often this file is loaded.
if (-not (Test-Path Function:\__jit_original_prompt)) {
    $Global:__jit_original_prompt = $function:prompt
    function global:__jit_original_prompt { & $Global:__jit_original_prompt }
    function global:prompt {
        $ok = $?
        $info = __jit_prompt_info
        if (-not $ok) { Write-Error '' -ErrorAction Ignore }
        $info + (__jit_original_prompt)
    }
}

Register-ArgumentCompleter -CommandName jitnow -ParameterName Name -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete)
    & $Global:__jit_bin config list 2>$null | ForEach-Object { ($_ -split "`t")[0] } |
        Where-Object { $_ -like "$wordToComplete*" } |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
