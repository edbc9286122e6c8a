"""landrelease: a land-release information system for mine action centres.

Contamination is a set of hazard polygons in PostGIS; every change to it is an event in an
append-only ledger whose pieces of geometry carry their geodesic area, so that released area is
derived from polygons and annual tables add up by construction.
"""

__version__ = "0.1.0"
