# avdops.sessionhost bootstrap: the command line of every runtime call.
# stdin holds one JSON line {"runtime": "<avd_runtime.ps1 text>", "request": {...}};
# the runtime travels on stdin, not on the command line, so its size is not
# bound by the Windows command-line limit.
$ErrorActionPreference = 'Stop'
$payload = ConvertFrom-Json -InputObject (@($input) -join "`n")
& ([ScriptBlock]::Create($payload.runtime)) -Request $payload.request
