# Needs Windows PowerShell 5.1, as every Ansible Windows module does.
# avdops.sessionhost runtime 1.0.0: the only PowerShell the collection runs on a session host.
# Each operation is a primitive read or change, a few lines over standard cmdlets or .NET.
# Input: $Request = {version, operations: [{id, op, ...arguments}]}.
# Output: one JSON document {version, results: [{id, op, ok, result | error}]}.
# docs/runtime.md documents every operation, what it calls on Windows, and its result.
param([Parameter(Mandatory = $true)] $Request)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$RuntimeVersion = '1.0.0'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$RegistryTypeNames = @{
    String       = 'REG_SZ'
    ExpandString = 'REG_EXPAND_SZ'
    MultiString  = 'REG_MULTI_SZ'
    DWord        = 'REG_DWORD'
    QWord        = 'REG_QWORD'
    Binary       = 'REG_BINARY'
    None         = 'REG_NONE'
    Unknown      = 'REG_UNKNOWN'
}
$RegistryKinds = @{
    REG_SZ        = 'String'
    REG_EXPAND_SZ = 'ExpandString'
    REG_MULTI_SZ  = 'MultiString'
    REG_DWORD     = 'DWord'
    REG_QWORD     = 'QWord'
    REG_BINARY    = 'Binary'
}
# Values that are secrets: the runtime says whether they are set, never what they hold.
$SecretValueNames = @('RegistrationToken')

function ConvertTo-IsoTime([DateTime] $Time) {
    $Time.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture)
}

function Get-RegistryValueEntry($Key, [string] $Name) {
    $kind = [string]$Key.GetValueKind($Name)
    $raw = $Key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')
    $entry = [ordered]@{ name = $Name; type = $RegistryTypeNames[$kind] }
    if ($SecretValueNames -contains $Name) {
        $text = [string]$raw
        $entry.set = $text.Length -gt 0
        $entry.length = $text.Length
    }
    elseif ($kind -eq 'DWord') { $entry.data = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$raw), 0) }
    elseif ($kind -eq 'QWord') { $entry.data = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$raw), 0) }
    elseif ($kind -eq 'Binary') { $entry.data = [Convert]::ToBase64String([byte[]]$raw) }
    elseif ($kind -eq 'MultiString') { $entry.data = [string[]]@($raw) }
    else { $entry.data = $raw }
    $entry
}

function Invoke-RegistryRead($Op) {
    # names: only these values (all when absent); subkey_pattern: also the values of matching subkeys.
    $path = "Registry::$($Op.path)"
    if (-not (Test-Path -LiteralPath $path)) {
        return [ordered]@{ path = $Op.path; exists = $false; values = @(); subkeys = @(); subkey_values = @{} }
    }
    $key = Get-Item -LiteralPath $path
    $present = @($key.GetValueNames())
    $names = if ($null -ne $Op.names) { @($Op.names) } else { $present }
    $values = foreach ($name in $names) {
        $match = $present | Where-Object { $_ -eq $name } | Select-Object -First 1
        if ($null -ne $match) { Get-RegistryValueEntry $key $match }
    }
    $subkeyValues = [ordered]@{}
    if ($Op.subkey_pattern) {
        foreach ($subkeyName in $key.GetSubKeyNames()) {
            if ($subkeyName -notlike $Op.subkey_pattern) { continue }
            $subkey = $key.OpenSubKey($subkeyName)
            $subkeyValues[$subkeyName] = @(foreach ($name in $subkey.GetValueNames()) { Get-RegistryValueEntry $subkey $name })
        }
    }
    [ordered]@{
        path = $Op.path; exists = $true; values = @($values); subkeys = @($key.GetSubKeyNames()); subkey_values = $subkeyValues
    }
}

function Invoke-RegistryReadUserHives($Op) {
    $hives = foreach ($hive in (Get-Item -LiteralPath 'Registry::HKEY_USERS').GetSubKeyNames()) {
        if ($hive -like '*_Classes') { continue }
        $read = Invoke-RegistryRead ([pscustomobject]@{ path = "HKEY_USERS\$hive\$($Op.subpath)"; names = $Op.names })
        [ordered]@{ hive = $hive; exists = $read.exists; values = $read.values }
    }
    , @($hives)
}

function Invoke-RegistryWrite($Op) {
    $kind = $RegistryKinds[[string]$Op.type]
    if ($null -eq $kind) { throw "Unknown registry type '$($Op.type)'." }
    $path = "Registry::$($Op.path)"
    if ($Op.type -eq 'REG_BINARY') { $data = [Convert]::FromBase64String($Op.data) }
    elseif ($Op.type -eq 'REG_MULTI_SZ') { $data = [string[]]@($Op.data) }
    elseif ($Op.type -eq 'REG_DWORD') { $data = [BitConverter]::ToInt32([BitConverter]::GetBytes([uint32]$Op.data), 0) }
    elseif ($Op.type -eq 'REG_QWORD') { $data = [BitConverter]::ToInt64([BitConverter]::GetBytes([uint64]$Op.data), 0) }
    else { $data = [string]$Op.data }
    $changed = $true
    if (Test-Path -LiteralPath $path) {
        $key = Get-Item -LiteralPath $path
        if (@($key.GetValueNames()) -contains $Op.name) {
            $old = $key.GetValue($Op.name, $null, 'DoNotExpandEnvironmentNames')
            $sameKind = [string]$key.GetValueKind($Op.name) -eq $kind
            $changed = -not ($sameKind -and ((@($old) -join "`0") -ceq (@($data) -join "`0")))
        }
    }
    if ($changed -and -not $Op.check_mode) {
        if (-not (Test-Path -LiteralPath $path)) { $null = New-Item -Path $path -Force }
        $null = New-ItemProperty -LiteralPath $path -Name $Op.name -PropertyType $kind -Value $data -Force
    }
    [ordered]@{ changed = $changed }
}

function Invoke-RegistryDelete($Op) {
    $path = "Registry::$($Op.path)"
    if (-not (Test-Path -LiteralPath $path)) { return [ordered]@{ changed = $false } }
    if ($null -eq $Op.name) {
        if (-not $Op.check_mode) { Remove-Item -LiteralPath $path -Recurse -Force }
        return [ordered]@{ changed = $true }
    }
    $present = @((Get-Item -LiteralPath $path).GetValueNames()) -contains $Op.name
    if ($present -and -not $Op.check_mode) { Remove-ItemProperty -LiteralPath $path -Name $Op.name -Force }
    [ordered]@{ changed = $present }
}

function Get-ServiceEntry([string] $Name) {
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $service) { return [ordered]@{ name = $Name; exists = $false } }
    [ordered]@{
        name         = $service.Name
        exists       = $true
        display_name = $service.DisplayName
        state        = [string]$service.Status
        start_type   = [string]$service.StartType
    }
}

function Invoke-ServiceQuery($Op) { Get-ServiceEntry $Op.name }

function Invoke-ServiceControl($Op) {
    # state: started | stopped | restarted. Waits for the state, then settle_seconds more,
    # and reports the state after that (a boot loader that fails registration stops again).
    $service = Get-Service -Name $Op.name
    $before = [string]$service.Status
    $wanted = if ($Op.state -eq 'stopped') { 'Stopped' } else { 'Running' }
    $changed = ($Op.state -eq 'restarted') -or ($before -ne $wanted)
    if ($changed -and -not $Op.check_mode) {
        if ($Op.state -eq 'restarted') { Restart-Service -InputObject $service -Force }
        elseif ($wanted -eq 'Running') { Start-Service -InputObject $service }
        else { Stop-Service -InputObject $service -Force }
        $service.WaitForStatus($wanted, [TimeSpan]::FromSeconds([double]$Op.wait_seconds))
        if ($Op.settle_seconds) { Start-Sleep -Seconds ([double]$Op.settle_seconds) }
    }
    $after = Get-ServiceEntry $Op.name
    $after.changed = $changed
    $after.state_before = $before
    $after
}

function Invoke-Qwinsta($Op) {
    $ErrorActionPreference = 'Continue'
    $text = & "$env:SystemRoot\System32\qwinsta.exe" 2>&1 | Out-String
    [ordered]@{ text = $text; exit_code = $LASTEXITCODE }
}

function Invoke-Disk($Op) {
    $drive = if ($Op.drive) { $Op.drive } else { $env:SystemDrive }
    $disk = Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='$drive'"
    if ($null -eq $disk) { throw "Cannot find drive. A drive with the name '$drive' does not exist." }
    [ordered]@{ drive = $disk.DeviceID; size = [uint64]$disk.Size; free = [uint64]$disk.FreeSpace }
}

function Invoke-Events($Op) {
    # Sources are matched after the query: Get-WinEvent fails outright on a provider name that is
    # not registered on the host (no agent installed yet), so only log, ids and age go in the filter.
    $filter = @{ LogName = $Op.log }
    if ($Op.ids) { $filter.Id = [int[]]@($Op.ids) }
    if ($Op.max_age_seconds) { $filter.StartTime = (Get-Date).AddSeconds(-[double]$Op.max_age_seconds) }
    $sources = @($Op.sources | Where-Object { $_ })
    $levels = @{ 1 = 'Critical'; 2 = 'Error'; 3 = 'Warning'; 4 = 'Information'; 0 = 'Information' }
    try { $queried = @(Get-WinEvent -FilterHashtable $filter -MaxEvents (4 * [int]$Op.max_count)) }
    catch {
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { $queried = @() } else { throw }
    }
    $found = @($queried | Where-Object { $sources.Count -eq 0 -or $sources -contains $_.ProviderName } |
            Select-Object -First ([int]$Op.max_count))
    $events = foreach ($record in $found) {
        $message = if ($null -ne $record.Message) { [string]$record.Message } else { @($record.Properties.Value) -join ' ' }
        [ordered]@{
            record_id = $record.RecordId
            source    = $record.ProviderName
            id        = $record.Id
            level     = $levels[[int]$record.Level]
            time      = ConvertTo-IsoTime $record.TimeCreated
            message   = $message.Substring(0, [Math]::Min(2048, $message.Length))
        }
    }
    , @($events)
}

function Invoke-Programs($Op) {
    $roots = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'
    )
    $programs = foreach ($root in $roots) {
        if (-not (Test-Path -LiteralPath $root)) { continue }
        foreach ($item in Get-ChildItem -LiteralPath $root) {
            $entry = Get-ItemProperty -LiteralPath $item.PSPath
            if ($entry.DisplayName -and $entry.DisplayName -like $Op.name_pattern) {
                [ordered]@{
                    display_name    = [string]$entry.DisplayName
                    display_version = [string]$entry.DisplayVersion
                    product_code    = $item.PSChildName
                    publisher       = [string]$entry.Publisher
                    install_date    = [string]$entry.InstallDate
                }
            }
        }
    }
    , @($programs)
}

function Invoke-Files($Op) {
    $folder = [Environment]::ExpandEnvironmentVariables([string]$Op.folder)
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) { return , @() }
    $files = Get-ChildItem -LiteralPath $folder -Filter $Op.pattern -File |
        Sort-Object -Property CreationTimeUtc -Descending |
        ForEach-Object {
            [ordered]@{ name = $_.Name; path = $_.FullName; size = $_.Length; created = ConvertTo-IsoTime $_.CreationTimeUtc }
        }
    , @($files)
}

function Invoke-Msiexec($Op) {
    if ($Op.action -eq 'install') { $arguments = @('/i', "`"$($Op.package)`"") }
    else { $arguments = @('/x', [string]$Op.product_code) }
    $arguments += @('/quiet', '/qn', '/norestart')
    if ($null -ne $Op.properties) {
        foreach ($property in $Op.properties.PSObject.Properties) { $arguments += "$($property.Name)=`"$($property.Value)`"" }
    }
    if ($Op.log) { $arguments += @('/l*+', "`"$($Op.log)`"") }
    $process = Start-Process -FilePath "$env:SystemRoot\System32\msiexec.exe" -ArgumentList $arguments -Wait -PassThru
    [ordered]@{ exit_code = $process.ExitCode }
}

function Invoke-ProbeUrl($Op) {
    # url, or registry_path + registry_name (+ suffix): probe the URL a registry value names,
    # e.g. BrokerURI + 'api/health', in the same round trip as the registry read.
    $url = $Op.url
    if ($Op.registry_path) {
        $path = "Registry::$($Op.registry_path)"
        $base = $null
        if (Test-Path -LiteralPath $path) { $base = (Get-Item -LiteralPath $path).GetValue($Op.registry_name) }
        if (-not $base) {
            return [ordered]@{ url = $null; reachable = $false; status = $null; body = $null; error = "$($Op.registry_name) is not set" }
        }
        $url = "$base$($Op.suffix)"
    }
    try {
        $response = Invoke-WebRequest -Uri $url -UseBasicParsing -TimeoutSec ([int]$Op.timeout_seconds) -MaximumRedirection 0
        $body = [string]$response.Content
        [ordered]@{
            url = $url; reachable = $true; status = [int]$response.StatusCode
            body = $body.Substring(0, [Math]::Min(512, $body.Length)); error = $null
        }
    }
    catch [System.Net.WebException] {
        $status = $null
        if ($null -ne $_.Exception.Response) { $status = [int]$_.Exception.Response.StatusCode }
        [ordered]@{ url = $url; reachable = ($null -ne $status); status = $status; body = $null; error = $_.Exception.Message }
    }
}

function Invoke-Processes($Op) {
    $processes = foreach ($name in @($Op.names)) {
        Get-Process -Name ($name -replace '\.exe$', '') -ErrorAction SilentlyContinue |
            ForEach-Object { [ordered]@{ name = $_.ProcessName; id = $_.Id } }
    }
    , @($processes)
}

function Invoke-BootTime($Op) {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime
    [ordered]@{ boot_time = ConvertTo-IsoTime $os.LastBootUpTime }
}

$Operations = @{
    registry_read            = 'Invoke-RegistryRead'
    registry_read_user_hives = 'Invoke-RegistryReadUserHives'
    registry_write           = 'Invoke-RegistryWrite'
    registry_delete          = 'Invoke-RegistryDelete'
    service_query            = 'Invoke-ServiceQuery'
    service_control          = 'Invoke-ServiceControl'
    qwinsta                  = 'Invoke-Qwinsta'
    disk                     = 'Invoke-Disk'
    events                   = 'Invoke-Events'
    programs                 = 'Invoke-Programs'
    files                    = 'Invoke-Files'
    msiexec                  = 'Invoke-Msiexec'
    probe_url                = 'Invoke-ProbeUrl'
    processes                = 'Invoke-Processes'
    boot_time                = 'Invoke-BootTime'
}

if ([string]$Request.version -ne $RuntimeVersion) {
    $mismatch = "The controller sent a request for runtime $($Request.version); this is runtime $RuntimeVersion."
    [ordered]@{ version = $RuntimeVersion; error = $mismatch; results = @() } | ConvertTo-Json -Compress
    exit 1
}
$results = foreach ($op in @($Request.operations)) {
    $entry = [ordered]@{ id = $op.id; op = $op.op }
    try {
        $function = $Operations[[string]$op.op]
        if ($null -eq $function) { throw "Unknown operation '$($op.op)'." }
        $entry.result = & $function $op
        $entry.ok = $true
    }
    catch {
        $entry.ok = $false
        $entry.error = $_.Exception.Message
    }
    $entry
}
[ordered]@{ version = $RuntimeVersion; results = @($results) } | ConvertTo-Json -Depth 8 -Compress
