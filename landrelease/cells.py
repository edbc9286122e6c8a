"""Text in CSV files that a spreadsheet shows as text and never evaluates.

Officers open every CSV landrelease writes (report tables, import reports) in a spreadsheet,
and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula: a
hazard name or source ID from a field file must not become one. Such a cell is written with a
leading apostrophe, which spreadsheets show as the text itself.
"""

from __future__ import annotations

#: Leading characters that make spreadsheet programs evaluate a CSV cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_text(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows and does not evaluate."""
    return "'" + text if text.startswith(FORMULA_START) else text
