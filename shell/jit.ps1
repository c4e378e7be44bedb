# jit shell hook for PowerShell. Load it with:
#   Invoke-Expression (& jit init powershell | Out-String)
# Defines jitnow, jitoff and a prompt indicator of the session's remaining time.

$Global:__jit_bin = {{jit}}
$Global:__jit_vars = @('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION',
    'AWS_DEFAULT_REGION', 'AWS_CREDENTIAL_EXPIRATION', 'AWS_SESSION_EXPIRATION', 'JIT_ENV', 'JIT_EXPIRES',
    'JIT_ENDPOINT_URL')

# Leaves $? True once the credentials are in place, False when jit fails: an advanced function
# that calls $PSCmdlet.WriteError does that for its caller (`jitnow prod && deploy`), where
# Write-Error would not.
function global:jitnow {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string]$Name,
        [switch]$Console,
        [switch]$NoCache,
        [switch]$Refresh
    )
    $failure = { param([string]$message)
        [System.Management.Automation.ErrorRecord]::new(
            [System.Exception]::new($message), 'JitNowFailed', 'NotSpecified', $null) }
    if (-not $Name) {
        $PSCmdlet.WriteError((& $failure 'usage: jitnow [-Console] [-NoCache] [-Refresh] ENV'))
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
}

# The prompt part, from JIT_EXPIRES and .NET's clock: no process is started.
function global:__jit_prompt_info {
    if ($Global:JIT_PROMPT -eq '0' -or $Env:JIT_EXPIRES -notmatch '^[0-9]{1,18}$') { return '' }
    $left = [int64]$Env:JIT_EXPIRES - [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    $esc = [char]27
    if ($left -le 0) { return "$esc[31m[$($Env:JIT_ENV) expired]$esc[0m " }
    if ($left -lt 60) { return "$esc[33m[$($Env:JIT_ENV) ${left}s!]$esc[0m " }
    $minutes = [math]::Floor($left / 60)
    if ($left -lt 600) { return "$esc[33m[$($Env:JIT_ENV) ${minutes}m!]$esc[0m " }
    return "$esc[36m[$($Env:JIT_ENV) ${minutes}m]$esc[0m "
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
