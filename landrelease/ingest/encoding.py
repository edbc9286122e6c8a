"""Recognise text decoded with the wrong encoding (mojibake) and say which encoding fixes it.

A shapefile without a ``.cpg`` is read as Latin-1, so UTF-8 "Goražde" arrives as "GoraÅ¾de",
and Windows-1250 "Goražde" as "Gora\\x9ede" (a C1 control character). Stored as read, such names
would split one municipality or organisation into two. The officer is told which value looks
wrong, what it most likely says, and the ``--encoding`` that reads it right.
"""

from __future__ import annotations

from dataclasses import dataclass

# Latin-1 lead bytes of two-byte UTF-8 sequences for Latin letters (U+00C0..U+02FF), the ones
# that show up as "Ã", "Å", "Ä", "Ë" ... when UTF-8 is read as Latin-1.
_UTF8_LEADS = frozenset(chr(code) for code in range(0xC2, 0xCC))


@dataclass(frozen=True)
class Mojibake:
    """A value that looks mis-decoded, what it probably says, and the encoding to read it with."""

    value: str
    likely: str | None
    encoding: str | None

    def explain(self, field: str) -> str:
        """One sentence for the report."""
        if self.likely is None:
            return (
                f"field {field} holds {self.value!r}, which contains characters that could not "
                "be decoded: the file is not in the encoding it was read with; give --encoding"
            )
        return (
            f"field {field} reads {self.value!r}, probably {self.likely!r}: the text is "
            f"{self.encoding} read with the wrong encoding; import again with "
            f"--encoding {self.encoding}"
        )


def detect(value: str) -> Mojibake | None:
    """The mis-decoding ``value`` shows, or None when it reads as plausible text."""
    if value.isascii():
        return None
    if "\ufffd" in value:
        return Mojibake(value, None, None)
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return None  # characters beyond Latin-1: decoded from a real Unicode source
    if any(ch in _UTF8_LEADS for ch in value):
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            fixed = None
        if fixed is not None and fixed != value:
            return Mojibake(value, fixed, "UTF-8")
    if any(0x80 <= ord(ch) <= 0x9F for ch in value):
        # C1 controls never appear in real text: single-byte Windows text read as Latin-1.
        return Mojibake(value, raw.decode("cp1250", errors="replace"), "cp1250")
    return None
