"""Errors a user can act on.

Every failure the user can cause (bad geometry, an unknown hazard, a date out of order...) is a
:class:`LandReleaseError` with a message written for an information management officer, so the
CLI can print it without a traceback and the API caller can catch one type.
"""

from __future__ import annotations


class LandReleaseError(Exception):
    """Base class: a problem explained in the message; nothing was changed."""


class ConfigurationError(LandReleaseError):
    """The environment is missing something (PostgreSQL binaries, PostGIS, a database URL)."""


class GeometryError(LandReleaseError):
    """A polygon is empty, invalid beyond repair, has no CRS or impossible coordinates."""


class HazardNotFound(LandReleaseError):
    """No hazard has the given national ID."""


class HazardClosed(LandReleaseError):
    """The hazard has been wholly released; nothing remains to release."""


class DateError(LandReleaseError):
    """An effective date is in the future, or before an event it must follow."""


class NoOverlap(LandReleaseError):
    """A release or confirmation polygon does not touch what remains of its hazard."""


class DuplicateHazard(LandReleaseError):
    """A hazard with this national ID already exists."""


class TransitionRefused(LandReleaseError):
    """A transition that does not apply to this hazard (e.g. confirming a CHA)."""
