# avdops.sessionhost bootstrap: sent as PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand.
# $input is one JSON line {"runtime": "<avd_runtime.ps1>", "request": {...}}: stdin lines over winrm, pipeline input over psrp.
# Windows PowerShell 5.1 in FullLanguage mode; docs/runtime.md says why each line is here.
$ErrorActionPreference = 'Stop'
$payload = ConvertFrom-Json -InputObject (@($input) -join "`n")
$mode = [string]$ExecutionContext.SessionState.LanguageMode
if ($mode -ne 'FullLanguage') {
    $why = "PowerShell runs in $mode mode here (AppLocker or WDAC application control); the avdops runtime needs FullLanguage mode. Nothing was read or changed."
    @{ version = $payload.request.version; error = $why; results = @() } | ConvertTo-Json -Compress
    exit 1
}
try { [Console]::InputEncoding = [Console]::OutputEncoding = [Text.UTF8Encoding]::new() } catch { $null = $_ }
& ([ScriptBlock]::Create($payload.runtime)) -Request $payload.request
