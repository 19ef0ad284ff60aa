# Needs Windows PowerShell 5.1, as every Ansible Windows module does.
# avdops.sessionhost runtime 1.6.0: the only PowerShell the collection runs on a session host.
# Each operation is a primitive read or change, a few lines over standard cmdlets or .NET.
# Input: $Request = {version, operations: [{id, op, ...arguments}]}, dictionaries parsed by the bootstrap
# (no cmdlet ever binds a value of the request, so module logging can't record a secret it carries).
# Output: one JSON document {version, results: [{id, op, ok, result | error}]}.
# docs/runtime.md documents every operation, what it calls on Windows, and its result.
param([Parameter(Mandatory = $true)] $Request)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$RuntimeVersion = '1.6.0'
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
# MSI properties that are secrets: refused while a machine policy makes Windows Installer log them.
$SecretProperties = @('REGISTRATIONTOKEN')
$RegistryRoots = @('HKEY_LOCAL_MACHINE', 'HKEY_USERS', 'HKEY_CURRENT_USER', 'HKEY_CLASSES_ROOT', 'HKEY_CURRENT_CONFIG')

function Get-TextArgument($Op, [string] $Name) {
    # Write operations check their arguments before they touch anything.
    $value = $Op.$Name
    if ($value -isnot [string] -or $value.Length -eq 0) { throw "$($Op.op): argument '$Name' is required (a non-empty string)." }
    $value
}

function Get-RegistryPathArgument($Op) {
    $path = Get-TextArgument $Op 'path'
    $root = $path.Split('\')[0]
    if ($RegistryRoots -notcontains $root.ToUpperInvariant() -or $path -notlike '*\*') {
        throw "$($Op.op): path '$path' must be a key below one of $($RegistryRoots -join ', ')."
    }
    $path
}

function Get-NumberArgument($Op, [string] $Name, [double] $Default, [double] $Minimum, [double] $Maximum) {
    $value = $Op.$Name
    if ($null -eq $value) { return $Default }
    if (($value -isnot [int] -and $value -isnot [long] -and $value -isnot [decimal] -and $value -isnot [double]) -or
        $value -lt $Minimum -or $value -gt $Maximum) {
        throw "$($Op.op): argument '$Name' must be a number from $Minimum to $Maximum, got '$value'."
    }
    [double]$value
}

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

function ConvertTo-RegistryData($Op) {
    $kind = $RegistryKinds[[string]$Op.type]
    if ($null -eq $kind) {
        throw "registry_write: type '$($Op.type)' is not one of $(@($RegistryKinds.Keys | Sort-Object) -join ', ')."
    }
    $raw = $Op.data
    if ($null -eq $raw) { throw "registry_write: argument 'data' is required." }
    try {
        if ($kind -eq 'Binary') { $data = [Convert]::FromBase64String([string]$raw) }
        elseif ($kind -eq 'MultiString') { $data = [string[]]@($raw) }
        elseif ($kind -eq 'DWord') { $data = [BitConverter]::ToInt32([BitConverter]::GetBytes([uint32]$raw), 0) }
        elseif ($kind -eq 'QWord') { $data = [BitConverter]::ToInt64([BitConverter]::GetBytes([uint64]$raw), 0) }
        else { $data = [string]$raw }
    }
    catch { throw "registry_write: data is not a valid $($Op.type) value." }
    @{ kind = $kind; data = $data }  # a hashtable: returned as is, an array in it is not unrolled
}

function Invoke-RegistryWrite($Op) {
    # Registry.SetValue, a .NET call: the data (a registration token) is bound to no cmdlet parameter.
    $keyName = Get-RegistryPathArgument $Op
    $name = Get-TextArgument $Op 'name'
    $converted = ConvertTo-RegistryData $Op
    $kind = $converted.kind
    $data = $converted.data
    $path = "Registry::$keyName"
    $changed = $true
    if (Test-Path -LiteralPath $path) {
        $key = Get-Item -LiteralPath $path
        if (@($key.GetValueNames()) -contains $name) {
            $old = $key.GetValue($name, $null, 'DoNotExpandEnvironmentNames')
            $sameKind = [string]$key.GetValueKind($name) -eq $kind
            $changed = -not ($sameKind -and ((@($old) -join "`0") -ceq (@($data) -join "`0")))
        }
    }
    if ($changed -and -not $Op.check_mode) {
        [Microsoft.Win32.Registry]::SetValue($keyName, $name, $data, [Microsoft.Win32.RegistryValueKind]$kind)
    }
    [ordered]@{ changed = $changed }
}

# What registry_delete may delete (docs/runtime.md): the keys the agent's and the boot loader's uninstallers
# leave (whole keys), the policy values that stop the agent (DisableMSI; DisableCMD for the machine and
# in each user hive, <hive>), and the collection's own note of the services a cleanup stopped (one value per
# service it stops, removed once the service runs again). Anything else is refused before anything is deleted.
$RegistryDeletable = @(
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices'; name = 'wuauserv' }
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices'; name = 'BITS' }
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent'; name = $null }
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader'; name = $null }
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer'; name = 'DisableMSI' }
    @{ path = 'HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\System'; name = 'DisableCMD' }
    @{ path = 'HKEY_USERS\<hive>\Software\Policies\Microsoft\Windows\System'; name = 'DisableCMD' }
)

function Test-RegistryDeletable([string] $Path, $Name) {
    # Compared part by part, without case (as the registry names keys); an empty part is never a key the list names.
    $parts = $Path.Split('\')
    if (@($parts | Where-Object { $_.Trim().Length -eq 0 }).Count) { return $false }
    if ($parts[0] -eq 'HKEY_USERS' -and $parts.Count -gt 2) { $parts[1] = '<hive>' }
    $shape = $parts -join '\'
    foreach ($allowed in $RegistryDeletable) {
        if ($shape -eq $allowed.path -and (($null -eq $allowed.name -and $null -eq $Name) -or ($null -ne $allowed.name -and $Name -eq $allowed.name))) {
            return $true
        }
    }
    $false
}

function Invoke-RegistryDelete($Op) {
    $keyName = Get-RegistryPathArgument $Op
    $path = "Registry::$keyName"
    if ($null -ne $Op.name -and ($Op.name -isnot [string] -or $Op.name.Length -eq 0)) {
        throw "registry_delete: argument 'name' must be a value name, or absent to delete the whole key."
    }
    if (-not (Test-RegistryDeletable $keyName $Op.name)) {
        $what = if ($null -eq $Op.name) { "key '$keyName'" } else { "value '$($Op.name)' of '$keyName'" }
        throw "registry_delete: $what is not one the collection owns (the RDInfraAgent and RDAgentBootLoader keys, DisableMSI and DisableCMD policy values, its StoppedServices note); nothing was deleted."
    }
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

function Wait-ServiceStatus($Service, [string] $Wanted, [double] $Seconds) {
    # ServiceController.WaitForStatus polls the Service Control Manager and throws
    # System.ServiceProcess.TimeoutException when the state is not reached in time.
    try { $Service.WaitForStatus($Wanted, [TimeSpan]::FromSeconds($Seconds)); $true }
    catch [System.ServiceProcess.TimeoutException] { $Service.Refresh(); $false }
}

function Invoke-ServiceControl($Op) {
    # state: started | stopped | restarted. The control is sent with ServiceController.Stop/Start, which return once
    # the Service Control Manager has it (Start-/Stop-/Restart-Service would wait without bound), then the state is
    # awaited up to wait_seconds (default 30): a service still StopPending/StartPending then is an error naming it,
    # and nothing more is done to it. Then settle_seconds more, and the state after that is reported
    # (a boot loader that fails registration stops again).
    $name = Get-TextArgument $Op 'name'
    if (@('started', 'stopped', 'restarted') -notcontains $Op.state) {
        throw "service_control: state '$($Op.state)' is not one of started, stopped, restarted."
    }
    $wait = Get-NumberArgument $Op 'wait_seconds' 30 1 600
    $settle = Get-NumberArgument $Op 'settle_seconds' 0 0 300
    $service = Get-Service -Name $name
    $before = [string]$service.Status
    $wanted = if ($Op.state -eq 'stopped') { 'Stopped' } else { 'Running' }
    $changed = ($Op.state -eq 'restarted') -or ($before -ne $wanted)
    if ($changed -and -not $Op.check_mode) {
        if ($before -eq 'StopPending' -or ($Op.state -ne 'started' -and $before -ne 'Stopped')) {
            if ($before -ne 'StopPending') { $service.Stop() }
            if (-not (Wait-ServiceStatus $service 'Stopped' $wait)) {
                throw ("service_control: $name is $($service.Status), not Stopped, $wait s after the stop request " +
                    '(a service that hangs stopping stays so until Windows restarts).')
            }
        }
        if ($wanted -eq 'Running') {
            $service.Refresh()
            if ([string]$service.Status -ne 'StartPending') { $service.Start() }
            if (-not (Wait-ServiceStatus $service 'Running' $wait)) {
                throw "service_control: $name is $($service.Status), not Running, $wait s after the start request."
            }
        }
        if ($settle -gt 0) { Start-Sleep -Milliseconds ([int]($settle * 1000)) }
    }
    $after = Get-ServiceEntry $name
    $after.changed = $changed
    $after.state_before = $before
    $after
}

function Invoke-Qwinsta($Op) {
    # stdout and stderr read apart (2>&1 would turn stderr lines into error records inside the text),
    # both decoded in the console's output encoding, as PowerShell decodes a native command's output.
    $start = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $start.FileName = "$env:SystemRoot\System32\qwinsta.exe"
    $start.UseShellExecute = $false
    $start.CreateNoWindow = $true
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    try { $encoding = [Console]::OutputEncoding } catch { $encoding = [Text.Encoding]::Default }
    $start.StandardOutputEncoding = $encoding
    $start.StandardErrorEncoding = $encoding
    $process = [Diagnostics.Process]::Start($start)
    $stderr = $process.StandardError.ReadToEndAsync()
    $text = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    [ordered]@{ text = $text; stderr = $stderr.Result; exit_code = $process.ExitCode }
}

function Invoke-Disk($Op) {
    $drive = if ($Op.drive) { $Op.drive } else { $env:SystemDrive }
    $disk = Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='$drive'"
    if ($null -eq $disk) { throw "Cannot find drive. A drive with the name '$drive' does not exist." }
    [ordered]@{ drive = $disk.DeviceID; size = [uint64]$disk.Size; free = [uint64]$disk.FreeSpace }
}

function Get-EventQuery($Op) {
    # One XPath query: providers, ids and age are matched by the event log service before -MaxEvents
    # counts, and a provider that is not registered (no agent installed yet) simply matches nothing.
    $clauses = @()
    $sources = @($Op.sources | Where-Object { $_ })
    foreach ($source in $sources) {
        if ($source -notmatch '^[A-Za-z0-9 ._-]+$') { throw "events: source '$source' is not a provider name." }
    }
    if ($sources.Count) { $clauses += '(' + (@($sources | ForEach-Object { "Provider[@Name='$_']" }) -join ' or ') + ')' }
    $ids = @($Op.ids | Where-Object { $null -ne $_ } | ForEach-Object { [int]$_ })
    if ($ids.Count) { $clauses += '(' + (@($ids | ForEach-Object { "EventID=$_" }) -join ' or ') + ')' }
    if ($Op.max_age_seconds) { $clauses += "TimeCreated[timediff(@SystemTime) <= $([long](1000 * [double]$Op.max_age_seconds))]" }
    if ($clauses.Count) { return "*[System[$($clauses -join ' and ')]]" }
    '*'
}

function Invoke-Events($Op) {
    $log = Get-TextArgument $Op 'log'
    $maxCount = [int](Get-NumberArgument $Op 'max_count' 100 1 10000)
    $query = Get-EventQuery $Op
    $levels = @{ 1 = 'Critical'; 2 = 'Error'; 3 = 'Warning'; 4 = 'Information'; 0 = 'Information' }
    try { $found = @(Get-WinEvent -LogName $log -FilterXPath $query -MaxEvents $maxCount) }
    catch {
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { $found = @() } else { throw }
    }
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

# Where cleanup_delete may delete (docs/runtime.md): children of Windows' temp folder and of Windows Update's
# download cache, and RDAgent_<version> folders in Microsoft RDInfra other than the ones the boot loader
# names (DefaultAgent: the agent it loads; PreviousAgent: the one it rolls back to).
function Get-CleanupScope {
    # agents_known: the boot loader's DefaultAgent was read. When it cannot be (no key, no value, access
    # denied), no RDAgent_* folder may go: unknown means keep.
    $windows = [Environment]::GetFolderPath('Windows')
    $inUse = @()
    $known = $false
    try {
        $bootLoader = 'Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader'
        if (Test-Path -LiteralPath $bootLoader) {
            $key = Get-Item -LiteralPath $bootLoader
            $known = ([string]$key.GetValue('DefaultAgent')).Length -gt 0
            $inUse = @(foreach ($name in @('DefaultAgent', 'PreviousAgent')) {
                    $value = [string]$key.GetValue($name)
                    if ($value) { $value }
                })
        }
    }
    catch { $known = $false }
    [ordered]@{
        windows_temp            = Join-Path $windows 'Temp'
        windows_update_download = Join-Path $windows 'SoftwareDistribution\Download'
        agent_folders           = "$env:SystemDrive\Program Files\Microsoft RDInfra"
        agents_in_use           = $inUse
        agents_known            = $known
    }
}

function Get-TreeSize([IO.DirectoryInfo] $Folder) {
    # Bytes below a folder and its newest change; links (reparse points) are not followed.
    $size = [long]0
    $newest = $Folder.LastWriteTimeUtc
    try { $entries = @($Folder.GetFileSystemInfos()) } catch { $entries = @() }
    foreach ($entry in $entries) {
        if ($entry.Attributes -band [IO.FileAttributes]::ReparsePoint) { continue }
        if ($entry -is [IO.DirectoryInfo]) {
            $inner = Get-TreeSize $entry
            $size += $inner.size
            if ($inner.modified -gt $newest) { $newest = $inner.modified }
        }
        else {
            $size += $entry.Length
            if ($entry.LastWriteTimeUtc -gt $newest) { $newest = $entry.LastWriteTimeUtc }
        }
    }
    @{ size = $size; modified = $newest }
}

function Get-CleanupItem([IO.FileSystemInfo] $Entry) {
    $link = [bool]($Entry.Attributes -band [IO.FileAttributes]::ReparsePoint)
    if ($Entry -is [IO.DirectoryInfo] -and -not $link) { $tree = Get-TreeSize $Entry }
    elseif ($Entry -is [IO.DirectoryInfo]) { $tree = @{ size = [long]0; modified = $Entry.LastWriteTimeUtc } }
    else { $tree = @{ size = $Entry.Length; modified = $Entry.LastWriteTimeUtc } }
    [ordered]@{
        name     = $Entry.Name
        path     = $Entry.FullName
        kind     = if ($link) { 'link' } elseif ($Entry -is [IO.DirectoryInfo]) { 'folder' } else { 'file' }
        size     = [long]$tree.size
        modified = ConvertTo-IsoTime $tree.modified
    }
}

function Invoke-CleanupCandidates($Op) {
    # What each safe location holds: its children with their sizes (folders summed, links not followed).
    $scope = Get-CleanupScope
    $locations = foreach ($location in @('windows_temp', 'windows_update_download', 'agent_folders')) {
        $folder = $scope[$location]
        $exists = Test-Path -LiteralPath $folder -PathType Container
        $items = @()
        if ($exists) {
            $entries = @((Get-Item -LiteralPath $folder -Force).GetFileSystemInfos())
            if ($location -eq 'agent_folders') { $entries = @($entries | Where-Object { $_ -is [IO.DirectoryInfo] -and $_.Name -like 'RDAgent_*' }) }
            $items = @(foreach ($entry in $entries) { Get-CleanupItem $entry })
        }
        [ordered]@{ location = $location; path = $folder; exists = $exists; items = $items }
    }
    [ordered]@{ locations = @($locations); agents_in_use = @($scope.agents_in_use); agents_known = $scope.agents_known }
}

function Get-CanonicalPath([string] $Path) {
    # The path Windows opens for a text: a full path with . and .. resolved and trailing dots and spaces trimmed
    # (Win32 path normalization, which [IO.Path]::GetFullPath applies). $null for what is not a local full path.
    if ($Path -match '[*?"<>|]' -or $Path -notmatch '^[A-Za-z]:\\' -or $Path.IndexOf(':', 2) -ge 0) { return $null }
    try { [IO.Path]::GetFullPath($Path) } catch { $null }
}

function Test-CleanupPath([string] $Path, $Scope) {
    # The reason a path may not be deleted, or $null when it is a child of a safe location. The path must be the
    # one Windows would open (canonical): 'C:\Windows\Temp\ ' or '...\Temp\x\..' name the location itself.
    $full = Get-CanonicalPath $Path
    if ($null -eq $full -or $Path -match '[. ](\\|$)') {
        return 'is not a full local path without wildcards, streams or parts ending in a dot or a space'
    }
    if (-not [string]::Equals($full, $Path, [StringComparison]::OrdinalIgnoreCase)) {
        return "is not a canonical path (Windows opens it as '$full')"
    }
    $parent = Split-Path -Path $full -Parent
    $name = Split-Path -Path $full -Leaf
    foreach ($root in @($Scope.windows_temp, $Scope.windows_update_download, $Scope.agent_folders)) {
        if ([string]::Equals($full.TrimEnd('\'), $root, [StringComparison]::OrdinalIgnoreCase)) { return 'is a location itself, not an item in it' }
    }
    if ($parent -eq $Scope.windows_temp -or $parent -eq $Scope.windows_update_download) { return $null }
    if ($parent -eq $Scope.agent_folders -and $name -like 'RDAgent_*') {
        if (-not $Scope.agents_known) { return "is an agent folder, and the boot loader's DefaultAgent could not be read (unknown means keep)" }
        if ($Scope.agents_in_use -contains $name) { return "is the agent the boot loader names (DefaultAgent or PreviousAgent)" }
        return $null
    }
    "is outside the locations cleanup_delete may delete from ($($Scope.windows_temp), $($Scope.windows_update_download), RDAgent_* folders in $($Scope.agent_folders))"
}

function Invoke-CleanupDelete($Op) {
    # paths: children of the safe locations (every one is checked before anything is deleted).
    $paths = @($Op.paths)
    if ($paths.Count -eq 0 -or @($paths | Where-Object { $_ -isnot [string] -or $_.Length -eq 0 }).Count) {
        throw "cleanup_delete: argument 'paths' is required (a list of full paths)."
    }
    $scope = Get-CleanupScope
    foreach ($path in $paths) {
        $refused = Test-CleanupPath $path $scope
        if ($refused) { throw "cleanup_delete: '$path' $refused; nothing was deleted." }
    }
    $deleted = @()
    $failed = @()
    $freed = [long]0
    foreach ($path in $paths) {
        if (-not (Test-Path -LiteralPath $path)) { continue }
        $item = Get-Item -LiteralPath $path -Force
        if ($item.Attributes -band [IO.FileAttributes]::ReparsePoint) {
            $failed += [ordered]@{ path = $path; error = 'a link (reparse point): not followed, not deleted' }
            continue
        }
        $kept = New-Object -TypeName System.Collections.ArrayList
        $size = Remove-CleanupTree $item $kept
        $freed += $size
        if ($kept.Count) {
            $failed += [ordered]@{ path = $path; error = "$($kept.Count) item(s) kept: $($kept[0].path): $($kept[0].error)"; freed = $size }
        }
        else { $deleted += [ordered]@{ path = $path; size = $size } }
    }
    [ordered]@{ deleted = @($deleted); failed = @($failed); freed = $freed }
}

function Remove-CleanupTree([IO.FileSystemInfo] $Item, [Collections.ArrayList] $Kept) {
    # Deletes an item item by item, never through a link, and returns the bytes it freed; what stays goes into
    # $Kept with the reason. .NET's recursive delete reopens every subfolder by its path, so a standard user who
    # owns a folder could swap it for a junction meanwhile and make this process delete elsewhere: an item that
    # someone other than an administrator owns is kept with everything in it (only its owner could swap it), a
    # link an administrator owns is removed itself (RemoveDirectory/DeleteFile on a reparse point do not follow it).
    $freed = [long]0
    try {
        $owner = Get-UntrustedOwner $Item
        if ($owner) {
            $null = $Kept.Add([ordered]@{ path = $Item.FullName; error = "owned by $owner, not an administrator: kept (its owner could swap it for a link)" })
            return [long]0
        }
        if ($Item.Attributes -band [IO.FileAttributes]::ReparsePoint) {
            if ($Item -is [IO.DirectoryInfo]) { [IO.Directory]::Delete($Item.FullName, $false) } else { [IO.File]::Delete($Item.FullName) }
            return [long]0
        }
        if ($Item -is [IO.FileInfo]) {
            $size = [long]$Item.Length
            [IO.File]::Delete($Item.FullName)
            return $size
        }
        $before = $Kept.Count
        foreach ($entry in $Item.GetFileSystemInfos()) { $freed += Remove-CleanupTree $entry $Kept }
        if ($Kept.Count -eq $before) { [IO.Directory]::Delete($Item.FullName, $false) }
        return $freed
    }
    catch {
        # A file in use stays; what could go went (counted by the caller).
        $null = $Kept.Add([ordered]@{ path = $Item.FullName; error = $_.Exception.Message })
        $freed
    }
}

function Get-Sha256([string] $Path) {
    (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function Invoke-FileHash($Op) {
    # The installer cache's probe: for each path whether the file is there, its size and SHA-256.
    $entries = foreach ($path in @($Op.paths)) {
        if ($path -isnot [string] -or $path.Length -eq 0) { throw "file_hash: argument 'paths' must be a list of file paths." }
        $item = Get-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue
        if ($null -eq $item -or $item.PSIsContainer) { [ordered]@{ path = $path; exists = $false; size = $null; sha256 = $null } }
        else { [ordered]@{ path = $path; exists = $true; size = [long]$item.Length; sha256 = Get-Sha256 $item.FullName } }
    }
    , @($entries)
}

# Owners only administrators control (docs/runtime.md): SYSTEM, Administrators, TrustedInstaller, and the
# account the runtime runs as (an administrator). Anything owned by another account, a standard user above
# all, can be changed or replaced by that account whatever its permissions say.
$TrustedOwnerSids = @('S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')

function Get-UntrustedOwner([IO.FileSystemInfo] $Item) {
    # The owner's name when it is not one of the trusted owners, else $null.
    $sid = $Item.GetAccessControl([Security.AccessControl.AccessControlSections]::Owner).GetOwner([Security.Principal.SecurityIdentifier])
    if ($TrustedOwnerSids -contains $sid.Value -or $sid.Value -eq [Security.Principal.WindowsIdentity]::GetCurrent().User.Value) { return $null }
    try { $sid.Translate([Security.Principal.NTAccount]).Value } catch { $sid.Value }
}

function Find-UntrustedOwner([string] $Path, [bool] $Tree) {
    # Why $Path is not under administrators' control, or $null: it or a folder above it (up to the drive's root)
    # has another owner, or (with $Tree) an item below it has one or is a link.
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    $current = $item
    $above = $Path
    while ($null -eq $current -and $above) {
        $above = Split-Path -Path $above -Parent
        if ($above) { $current = Get-Item -LiteralPath $above -Force -ErrorAction SilentlyContinue }
    }
    while ($null -ne $current) {
        $owner = Get-UntrustedOwner $current
        if ($owner) { return "'$($current.FullName)' is owned by $owner, not by an administrator" }
        $current = if ($current -is [IO.FileInfo]) { $current.Directory } else { $current.Parent }
    }
    if ($Tree -and $item -is [IO.DirectoryInfo]) {
        $pending = New-Object -TypeName 'System.Collections.Generic.Stack[System.IO.DirectoryInfo]'
        $pending.Push($item)
        while ($pending.Count) {
            foreach ($entry in $pending.Pop().GetFileSystemInfos()) {
                if ($entry.Attributes -band [IO.FileAttributes]::ReparsePoint) { return "'$($entry.FullName)' is a link (reparse point)" }
                $owner = Get-UntrustedOwner $entry
                if ($owner) { return "'$($entry.FullName)' is owned by $owner, not by an administrator" }
                if ($entry -is [IO.DirectoryInfo]) { $pending.Push($entry) }
            }
        }
    }
    $null
}

function New-AdminOnlySecurity {
    # Owner Administrators; SYSTEM and Administrators full control, inherited by everything below; nothing
    # inherited from above (ProgramData lets users create folders there and own what they create).
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetOwner((New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'))
    $security.SetAccessRuleProtection($true, $false)
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'
        $security.AddAccessRule($rule)
    }
    $security
}

function Test-AdminOnly([string] $Path) {
    # Whether a folder has exactly New-AdminOnlySecurity's owner and rules.
    $security = [IO.Directory]::GetAccessControl($Path)
    $rules = @($security.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier]))
    $other = @($rules | Where-Object {
            $_.AccessControlType -ne 'Allow' -or @('S-1-5-18', 'S-1-5-32-544') -notcontains $_.IdentityReference.Value -or
            $_.FileSystemRights -ne [Security.AccessControl.FileSystemRights]::FullControl
        })
    $security.AreAccessRulesProtected -and $rules.Count -eq 2 -and $other.Count -eq 0 -and
    $security.GetOwner([Security.Principal.SecurityIdentifier]).Value -eq 'S-1-5-32-544'
}

function Invoke-MakeDirectory($Op) {
    # A folder of the installer cache, created with its parents before put_file writes into it. secure_root:
    # the cache itself, refused when it, a folder above it or an item in it is not under administrators'
    # control; then created (or reset) admin-only. The paths must be inside it.
    $paths = @($Op.paths)
    foreach ($path in $paths) {
        if ($path -isnot [string] -or $path -notmatch '^[A-Za-z]:\\') { throw "make_directory: '$path' is not an absolute folder path like C:\folder." }
    }
    $root = $Op.secure_root
    $secured = $false
    if ($null -ne $root) {
        $full = if ($root -is [string]) { Get-CanonicalPath $root } else { $null }
        if ($null -eq $full -or -not [string]::Equals($full, $root, [StringComparison]::OrdinalIgnoreCase) -or $root -match '[. ](\\|$)') {
            throw "make_directory: secure_root '$root' is not a canonical absolute folder path like C:\folder."
        }
        foreach ($path in $paths) {
            if (-not ($path -eq $root -or $path.StartsWith("$root\", [StringComparison]::OrdinalIgnoreCase))) {
                throw "make_directory: '$path' is not inside secure_root '$root'."
            }
        }
        $untrusted = Find-UntrustedOwner $root $true
        if ($untrusted) {
            throw "make_directory: $untrusted, who could replace what the cache holds; nothing was created. Delete '$root' and what a standard user created above it (or take ownership and reset its permissions), then run again."
        }
        $missing = @()
        for ($folder = $root; -not (Test-Path -LiteralPath $folder -PathType Container); $folder = Split-Path -Path $folder -Parent) { $missing += $folder }
        $secured = ($missing.Count -gt 0) -or -not (Test-AdminOnly $root)
        if ($secured -and -not $Op.check_mode) {
            [array]::Reverse($missing)
            foreach ($folder in $missing) { $null = [IO.Directory]::CreateDirectory($folder, (New-AdminOnlySecurity)) }
            if (-not $missing.Count) { [IO.Directory]::SetAccessControl($root, (New-AdminOnlySecurity)) }
        }
    }
    $created = @($paths | Where-Object { -not (Test-Path -LiteralPath $_ -PathType Container) })
    if (-not $Op.check_mode) {
        foreach ($path in $created) { $null = [IO.Directory]::CreateDirectory($path) }
    }
    [ordered]@{ changed = $created.Count -gt 0 -or $secured; created = $created; secured = $secured }
}

function Open-Package([string] $OpName, [string] $Path, $Expected) {
    # The package opened for reading, shared for reading only: until the handle is closed (after the installer
    # ran) nobody can change, replace or delete it. Refused when it or a folder above it is not under
    # administrators' control; with $Expected, hashed through that handle.
    if ($null -ne $Expected -and ($Expected -isnot [string] -or $Expected -notmatch '^[0-9A-Fa-f]{64}$')) {
        throw "${OpName}: argument 'sha256' must be 64 hexadecimal digits."
    }
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        if ($null -eq $Expected) { return $null }  # Windows Installer answers 1619 (the package cannot be opened)
        throw "${OpName}: package '$Path' does not exist; nothing was run."
    }
    $untrusted = Find-UntrustedOwner $Path $false
    if ($untrusted) { throw "${OpName}: package '$Path': $untrusted, who could swap it; nothing was run." }
    $stream = [IO.File]::Open($Path, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]::Read)
    if ($null -eq $Expected) { return $stream }
    $sha = [Security.Cryptography.SHA256]::Create()
    try { $actual = ([BitConverter]::ToString($sha.ComputeHash($stream)) -replace '-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
    if ($actual -ne $Expected.ToLowerInvariant()) {
        $stream.Dispose()
        throw "${OpName}: package '$Path' has SHA-256 $actual, not the expected $($Expected.ToLowerInvariant()); nothing was run."
    }
    $stream
}

function Initialize-WindowsInstaller {
    # The Windows Installer API in this process: the package's properties (a registration token)
    # go on no process command line (msiexec /i ... PROP=value would show them to any process listing).
    if ($null -ne ('AvdOps.WindowsInstaller' -as [type])) { return }
    Add-Type -Namespace AvdOps -Name WindowsInstaller -MemberDefinition @'
[DllImport("msi.dll", CharSet = CharSet.Unicode)] public static extern uint MsiInstallProduct(string packagePath, string commandLine);
[DllImport("msi.dll", CharSet = CharSet.Unicode)] public static extern uint MsiConfigureProductEx(string product, int installLevel, int installState, string commandLine);
[DllImport("msi.dll")] public static extern int MsiSetInternalUI(int uiLevel, IntPtr window);
[DllImport("msi.dll", CharSet = CharSet.Unicode)] public static extern uint MsiEnableLog(uint logMode, string logFile, uint logAttributes);
'@
}

function Get-InstallerLoggingPolicy {
    # The machine's Windows Installer Logging (mode letters, e.g. voicewarmupx) and Debug policies: with either
    # set, the installer writes logs of its own (MSI*.LOG in %TEMP% and, for the service, C:\Windows\Temp) with
    # the command line and properties; Debug=7 writes the command line even for hidden properties.
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SOFTWARE\Policies\Microsoft\Windows\Installer')
    if ($null -eq $key) { return @{ logging = ''; debug = 0 } }
    try { @{ logging = [string]$key.GetValue('Logging', ''); debug = [long]$key.GetValue('Debug', 0) } }
    finally { $key.Close() }
}

function Invoke-Msiexec($Op) {
    # action install: package (+ properties); uninstall: product_code. Quiet, no restart, optional log.
    if (@('install', 'uninstall') -notcontains $Op.action) {
        throw "msiexec: action '$($Op.action)' is not one of install, uninstall."
    }
    if ($Op.action -eq 'install') {
        $package = Get-TextArgument $Op 'package'
        if ($package -notlike '*.msi') { throw "msiexec: package '$package' is not an .msi file." }
    }
    else {
        $productCode = Get-TextArgument $Op 'product_code'
        if ($productCode -notmatch '^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$') {
            throw "msiexec: product_code '$productCode' is not a product code like {01234567-89AB-CDEF-0123-456789ABCDEF}."
        }
    }
    $properties = @('REBOOT=ReallySuppress')
    $hidden = @()
    if ($null -ne $Op.properties) {
        foreach ($name in @($Op.properties.Keys)) {
            if ($name -notmatch '^[A-Za-z_][A-Za-z0-9_.]*$') { throw "msiexec: '$name' is not a property name." }
            $value = [string]$Op.properties[$name]
            $properties += "$name=`"$($value.Replace('"', '""'))`""
            if ($SecretProperties -contains $name.ToUpperInvariant()) { $hidden += $name.ToUpperInvariant() }
        }
    }
    if ($hidden.Count) {
        # MsiHiddenProperties is a private property (a command line cannot set it) and Debug=7 logs the command
        # line anyway: while a logging policy is set, a secret is never handed to Windows Installer.
        $policy = Get-InstallerLoggingPolicy
        if ($policy.logging -or $policy.debug) {
            throw "msiexec: the Windows Installer policies in HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer (Logging '$($policy.logging)', Debug $($policy.debug)) make the installer write its command line and properties into MSI*.LOG files, so $($hidden -join ', ') would be logged; nothing was installed. Write the secret to the registry instead (the collection installs the agent so), or remove the policies."
        }
    }
    $lock = $null
    if ($Op.action -eq 'install') { $lock = Open-Package 'msiexec' $package $Op.sha256 }
    try {
        Initialize-WindowsInstaller
        $null = [AvdOps.WindowsInstaller]::MsiSetInternalUI(2, [IntPtr]::Zero)  # INSTALLUILEVEL_NONE: /qn
        if ($Op.log) {
            # INSTALLLOGMODE: fatal exit, error, warning, user, info, resolve source, out of disk space, action
            # start, common data; not action data, property dumps nor verbose, which print property values. 1: append.
            $null = [AvdOps.WindowsInstaller]::MsiEnableLog(0x9DF, [string]$Op.log, 1)
        }
        elseif ($hidden.Count) { $null = [AvdOps.WindowsInstaller]::MsiEnableLog(0, $null, 0) }  # this process logs nothing
        if ($Op.action -eq 'install') { $code = [AvdOps.WindowsInstaller]::MsiInstallProduct($package, $properties -join ' ') }
        else { $code = [AvdOps.WindowsInstaller]::MsiConfigureProductEx($productCode, 0, 2, $properties -join ' ') }
    }
    finally { if ($null -ne $lock) { $lock.Dispose() } }
    [ordered]@{ exit_code = [int]$code }
}

function Invoke-AsSystem([string] $Path, [string] $Arguments, [double] $Seconds) {
    # Task Scheduler 2.0 (COM Schedule.Service), as ansible.windows' become falls back to: a task that runs the
    # program once as SYSTEM (a service logon, not WinRM's network logon, so installers that use Windows Update
    # work), started now and waited for up to $Seconds; its exit code is LastTaskResult. Deleted in any case.
    $scheduler = New-Object -ComObject 'Schedule.Service'
    $scheduler.Connect()
    $folder = $scheduler.GetFolder('\')
    $definition = $scheduler.NewTask(0)
    $definition.RegistrationInfo.Description = 'avdops.sessionhost: one installer run as SYSTEM, deleted after'
    $definition.Settings.AllowDemandStart = $true
    $definition.Settings.DisallowStartIfOnBatteries = $false
    $definition.Settings.StopIfGoingOnBatteries = $false
    $definition.Settings.ExecutionTimeLimit = "PT$([int][Math]::Ceiling($Seconds))S"
    $definition.Principal.UserId = 'S-1-5-18'
    $definition.Principal.LogonType = 5  # TASK_LOGON_SERVICE_ACCOUNT
    $definition.Principal.RunLevel = 1  # TASK_RUNLEVEL_HIGHEST
    $action = $definition.Actions.Create(0)  # TASK_ACTION_EXEC
    $action.Path = $Path
    $action.Arguments = $Arguments
    $name = 'avdops-' + [Guid]::NewGuid().ToString('N')
    $null = $folder.RegisterTaskDefinition($name, $definition, 6, 'S-1-5-18', $null, 5)  # create or update, as a service
    try {
        $task = $folder.GetTask($name)
        $null = $task.Run($null)
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 500
            $task = $folder.GetTask($name)
            # Queued (2) or running (4), or LastTaskResult still SCHED_S_TASK_RUNNING / SCHED_S_TASK_HAS_NOT_RUN.
            if ($task.State -ne 2 -and $task.State -ne 4 -and @(0x41301, 0x41303) -notcontains $task.LastTaskResult) {
                return [int]$task.LastTaskResult
            }
        }
        $task.Stop(0)
        throw "the installer still ran as SYSTEM (scheduled task $name) after $Seconds s; it was stopped."
    }
    finally { $folder.DeleteTask($name, 0) }
}

function Invoke-DotnetInstall($Op) {
    # The .NET Framework offline installer, quiet and without restarting: '<path> /q /norestart'.
    # Its exit code says what happened (0; 1641 or 3010: a restart finishes it; 1602, 1603, 5100 ...).
    # as_system: run it as SYSTEM through a scheduled task (Invoke-AsSystem), up to wait_seconds (default 3600).
    $path = Get-TextArgument $Op 'path'
    if ($path -notlike '*.exe') { throw "dotnet_install: path '$path' is not an .exe file." }
    if ($null -eq $Op.sha256) { throw "dotnet_install: argument 'sha256' is required (the installer's pinned SHA-256)." }
    if ($null -ne $Op.as_system -and $Op.as_system -isnot [bool]) { throw "dotnet_install: argument 'as_system' must be true or false." }
    $wait = Get-NumberArgument $Op 'wait_seconds' 3600 60 7200
    $lock = Open-Package 'dotnet_install' $path $Op.sha256
    try {
        if ($Op.as_system) {
            $code = Invoke-AsSystem $path '/q /norestart' $wait
            $ranAs = 'NT AUTHORITY\SYSTEM'
        }
        else {
            $start = New-Object -TypeName System.Diagnostics.ProcessStartInfo
            $start.FileName = $path
            $start.Arguments = '/q /norestart'
            $start.UseShellExecute = $false
            $start.CreateNoWindow = $true
            $process = [Diagnostics.Process]::Start($start)
            $process.WaitForExit()
            $code = $process.ExitCode
            $ranAs = [Security.Principal.WindowsIdentity]::GetCurrent().Name
        }
    }
    finally { $lock.Dispose() }
    [ordered]@{ exit_code = $code; ran_as = $ranAs }
}

function Invoke-ProbeUrl($Op) {
    # url, or registry_path + registry_name (+ suffix): probe the URL a registry value names,
    # e.g. BrokerURI + 'api/health', in the same round trip as the registry read.
    if (-not $Op.registry_path) { $url = Get-TextArgument $Op 'url' }
    if ($Op.registry_path) {
        $path = "Registry::$($Op.registry_path)"
        $base = $null
        if (Test-Path -LiteralPath $path) { $base = (Get-Item -LiteralPath $path).GetValue($Op.registry_name) }
        if (-not $base) {
            return [ordered]@{
                url = $null; reachable = $false; status = $null; location = $null; body = $null
                error = "$($Op.registry_name) is not set"; runs_as = $null; proxy = $null
            }
        }
        $url = "$base$($Op.suffix)"
    }
    # HttpWebRequest without redirects: a 3xx comes back as a response (status and Location), 4xx/5xx as a
    # WebException with the response. It runs as the WinRM user with that user's proxy settings.
    $timeout = [int](1000 * (Get-NumberArgument $Op 'timeout_seconds' 10 1 300))
    $runsAs = [Security.Principal.WindowsIdentity]::GetCurrent().Name
    try { $uri = [Uri]$url } catch { throw "probe_url: '$url' is not a URL." }
    $proxy = $null
    $systemProxy = [Net.WebRequest]::DefaultWebProxy
    if ($null -ne $systemProxy -and -not $systemProxy.IsBypassed($uri)) { $proxy = [string]$systemProxy.GetProxy($uri) }
    $answer = [ordered]@{
        url = $url; reachable = $false; status = $null; location = $null; body = $null; error = $null
        runs_as = $runsAs; proxy = $proxy
    }
    $response = $null
    try {
        $request = [Net.HttpWebRequest][Net.WebRequest]::Create($uri)
        $request.AllowAutoRedirect = $false
        $request.Timeout = $timeout
        $request.ReadWriteTimeout = $timeout
        $response = $request.GetResponse()
    }
    catch [System.Net.WebException] {
        $response = $_.Exception.Response
        $answer.error = $_.Exception.Message
    }
    catch {
        $answer.error = $_.Exception.Message
    }
    if ($null -ne $response) {
        $answer.reachable = $true
        $answer.status = [int]$response.StatusCode
        $answer.location = $response.Headers['Location']
        try {
            $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $response.GetResponseStream()
            $buffer = New-Object -TypeName char[] -ArgumentList 512
            $answer.body = [string]::new($buffer, 0, $reader.ReadBlock($buffer, 0, 512))
        }
        catch { $answer.body = $null }
        finally { $response.Close() }
    }
    $answer
}

function Invoke-InstallerBusy($Op) {
    # Windows Installer holds the Global\_MSIExecute mutex while an installation runs; msiexec
    # processes alone prove nothing (the Windows Installer service's own msiexec /V stays up).
    $mutex = $null
    try {
        $busy = [Threading.Mutex]::TryOpenExisting('Global\_MSIExecute', [Security.AccessControl.MutexRights]::Synchronize, [ref]$mutex)
    }
    catch [System.UnauthorizedAccessException] { $busy = $true }  # it exists: only its access is denied
    if ($null -ne $mutex) { $mutex.Dispose() }
    [ordered]@{ busy = $busy; mutex = 'Global\_MSIExecute' }
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
    installer_busy           = 'Invoke-InstallerBusy'
    cleanup_candidates       = 'Invoke-CleanupCandidates'
    cleanup_delete           = 'Invoke-CleanupDelete'
    file_hash                = 'Invoke-FileHash'
    make_directory           = 'Invoke-MakeDirectory'
    dotnet_install           = 'Invoke-DotnetInstall'
}

if ([string]$Request.version -ne $RuntimeVersion) {
    $mismatch = "The controller sent a request for runtime $($Request.version); this is runtime $RuntimeVersion."
    [ordered]@{ version = $RuntimeVersion; error = $mismatch; results = @() } | ConvertTo-Json -Compress
    exit 1
}
$failedIds = @{}
$results = foreach ($op in @($Request.operations)) {
    $entry = [ordered]@{ id = $op.id; op = $op.op }
    # after_ok: ids of earlier operations this one runs only after (a folder emptied only once its writers stopped).
    $unmet = @(@($op.after_ok) | Where-Object { $null -ne $_ -and $failedIds.ContainsKey([string]$_) })
    try {
        if ($unmet.Count) { throw "not run: $($unmet -join ', ') did not succeed." }
        $function = $Operations[[string]$op.op]
        if ($null -eq $function) { throw "Unknown operation '$($op.op)'." }
        $entry.result = & $function $op
        $entry.ok = $true
    }
    catch {
        $entry.ok = $false
        $entry.error = $_.Exception.Message
        $failedIds[[string]$op.id] = $true
    }
    $entry
}
[ordered]@{ version = $RuntimeVersion; results = @($results) } | ConvertTo-Json -Depth 8 -Compress
