"""Importing field files: read (pyogrio) → shape tables → validate (one path) → apply (ledger).

``import_file`` is the whole of it; the CLI command ``landrelease import`` only parses options,
calls it and prints :mod:`landrelease.ingest.report`.
"""

from landrelease.ingest.apply import Change, ImportResult, import_file
from landrelease.ingest.findings import Problem
from landrelease.ingest.profiles import (
    Profile,
    available_profiles,
    check_profile,
    load_profile,
    validate_profile,
)

__all__ = [
    "Change",
    "ImportResult",
    "Problem",
    "Profile",
    "available_profiles",
    "check_profile",
    "import_file",
    "load_profile",
    "validate_profile",
]
