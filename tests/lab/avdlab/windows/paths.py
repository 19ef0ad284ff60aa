"""Win32 path normalization: the path Windows opens for a text.

From "File path formats on Windows systems", section "Path normalization"
(https://learn.microsoft.com/dotnet/standard/io/file-path-formats#path-normalization),
which is what ``GetFullPathNameW`` and every file API that takes a path apply:
separators are canonicalised (``/`` becomes ``\\``) and runs of them collapsed;
``.`` segments are removed and ``..`` removes the segment before it (never
past the root); a segment that ends in a single period loses it; and when the
path does not end in a separator, its trailing periods and spaces are removed.
Names are compared without case (NTFS as Windows uses it). ``\\\\?\\`` paths skip
normalization; the lab only meets drive paths.
"""

from __future__ import annotations

import re

DRIVE_PATH = re.compile(r"^[A-Za-z]:([\\/]|$)")


def full_path(path: str) -> str:
    """The full path Windows opens for a drive path (``C:\\...``), without a trailing separator.

    ``C:\\Windows\\Temp\\ `` and ``C:\\Windows\\Temp\\x\\..`` are ``C:\\Windows\\Temp``; ``C:\\`` stays ``C:``.
    """
    if not DRIVE_PATH.match(path):
        raise ValueError(f"not a drive path: {path!r}")
    drive, rest = path[:2], path[3:].replace("/", "\\")
    parts = rest.split("\\")
    if parts[-1] not in (".", ".."):
        parts[-1] = parts[-1].rstrip(". ")  # the path does not end in a separator (or it is empty already)
    segments: list[str] = []
    for segment in parts:
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        trimmed = segment[:-1] if segment.endswith(".") and not segment.endswith("..") else segment
        if trimmed:
            segments.append(trimmed)
    return "\\".join([drive.upper(), *segments])


def same_path(left: str, right: str) -> bool:
    """Whether two drive paths name the same file or folder (normalised, without case)."""
    return full_path(left).lower() == full_path(right).lower()
