# avdops.sessionhost bootstrap: sent as PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand.
# $input is one JSON line {"runtime": "<avd_runtime.ps1>", "request": {...}}: stdin lines over winrm, pipeline input over psrp.
# Windows PowerShell 5.1 in FullLanguage mode; docs/runtime.md says why each line is here.
$ErrorActionPreference = 'Stop'
$mode = [string]$ExecutionContext.SessionState.LanguageMode
if ($mode -ne 'FullLanguage') {
    $why = "PowerShell runs in $mode mode here (AppLocker or WDAC application control); the avdops runtime needs FullLanguage mode. Nothing was read or changed."
    @{ version = $null; error = $why; results = @() } | ConvertTo-Json -Compress
    exit 1
}
try { [Console]::InputEncoding = [Console]::OutputEncoding = [Text.UTF8Encoding]::new() } catch { $null = $_ }
# Parsed by .NET, not bound to a cmdlet parameter: module logging never records the request's values.
Add-Type -AssemblyName System.Web.Extensions
$json = [Web.Script.Serialization.JavaScriptSerializer]::new()
$json.MaxJsonLength = [int]::MaxValue
$payload = $json.DeserializeObject(@($input) -join "`n")
& ([ScriptBlock]::Create($payload['runtime'])) -Request $payload['request']
