"""Recognise text decoded with the wrong encoding (mojibake) and say which encoding fixes it.

A shapefile without a ``.cpg`` is read as Latin-1, so UTF-8 "Goražde" arrives as "GoraÅ¾de",
and Windows-1250 "Goražde" as "Gora\\x9ede" (a C1 control character). Stored as read, such names
would split one municipality or organisation into two. UTF-8 read with a Windows code page (a
``.cpg`` that says 1250 or 1252) shows the same way ("GoraĹľde"). The officer is told which
value looks wrong, what it most likely says, and the ``--encoding`` that reads it right.

Windows-1250 (the encoding Excel and older GIS tools save in across the former Yugoslavia)
read as Latin-1 is the subtle case: š and ž become C1 controls, which no text holds, but č, ć
and đ become è, æ and ð, which French, Danish or Icelandic text does hold. When the encoding
was guessed (a shapefile without ``.cpg``), a value is taken for Windows-1250 when its
Windows-1250 reading has letters of Bosnian, Croatian or Serbian Latin (čćđšž), no letter of
another language that Windows-1250 would make of Latin-1 letters (Kjæråsen would read
"Kjćrĺsen": ĺ is Slovak, so Kjæråsen stays), and at least one è, æ or ð that is not where those
languages put it: è before a consonant and an e ("Père", "Genève") or before a final s
("Agnès"), æ between consonants ("Bærum"). "Èelebiæi", "Ðurðevik" and "Zenica è" are flagged;
"Père", "Kjæråsen", "Ærø", "Müller", "Straße" are not. Ð and ð are always taken as đ: Icelandic
text is not expected in these files.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

#: Lead bytes of two-byte UTF-8 sequences for Latin letters (U+0080..U+02FF), the ones that
#: show up as "Ã", "Å", "Ä" ... when UTF-8 is read as Latin-1 or Windows-1252 ("Ĺ" in 1250).
_UTF8_LEADS = range(0xC2, 0xCC)

#: Letters of Bosnian, Croatian and Serbian Latin beyond ASCII.
REGION_LETTERS = frozenset("čćđšžČĆĐŠŽ")

#: Latin-1 letters whose bytes are č, ć or đ in Windows-1250.
_AMBIGUOUS = frozenset("ÈèÆæÐð")

#: è where French puts it: before a consonant (or a common pair) and an e, or before a final s.
_FRENCH_GRAVE = re.compile(r"(?:[bcdfglmnprstvz]|ch|gn|qu|[bcdfgptv][rl])e|s(?![^\W\d_])", re.I)

_VOWELS = frozenset("aeiouyåäöøéAEIOUYÅÄÖØÉ")

#: The encodings suggested for bytes that do not decode, most likely first in the region.
CANDIDATES = ("UTF-8", "cp1250", "cp1252")


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


def codec_name(encoding: str) -> str:
    """The canonical name of ``encoding`` (``windows-1250`` → ``cp1250``); LookupError if none."""
    return codecs.lookup(encoding).name


def _as_bytes(value: str) -> bytes | None:
    """The bytes ``value`` was decoded from if it was read with a single-byte encoding, or None."""
    for single_byte in ("latin-1", "cp1252", "cp1250"):
        try:
            return value.encode(single_byte)
        except UnicodeEncodeError:
            continue
    return None


def detect(value: str, *, guessed: bool = False) -> Mojibake | None:
    """The mis-decoding ``value`` shows, or None when it reads as plausible text.

    ``guessed``: the file did not say its encoding (a shapefile without ``.cpg``), so Latin-1
    letters that are Windows-1250 letters of the region are weighed too (see the module).
    """
    if value.isascii():
        return None
    if "\ufffd" in value:
        return Mojibake(value, None, None)
    raw = _as_bytes(value)
    if raw is None:
        return None  # characters beyond Latin-1: decoded from a real Unicode source
    if any(byte in _UTF8_LEADS for byte in raw):
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            fixed = None
        if fixed is not None and fixed != value:
            return Mojibake(value, fixed, "UTF-8")
    if any(0x80 <= ord(ch) <= 0x9F for ch in value):
        # C1 controls never appear in real text: single-byte Windows text read as Latin-1.
        return Mojibake(value, raw.decode("cp1250", errors="replace"), "cp1250")
    if guessed and _reads_as_region_text(value):
        return Mojibake(value, value.encode("latin-1").decode("cp1250"), "cp1250")
    return None


def _reads_as_region_text(value: str) -> bool:
    """True when Latin-1 ``value`` is much more plausible as Windows-1250 text of the region."""
    try:
        reading = value.encode("latin-1").decode("cp1250")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    if not any(ch in REGION_LETTERS for ch in reading):
        return False
    for was, now in zip(value, reading, strict=True):
        if was != now and now.isalpha() and now not in REGION_LETTERS:
            return False  # Kjæråsen → Kjćrĺsen: the Latin-1 letters belong to another language
    return not all(_where_others_put_it(value, i) for i, ch in enumerate(value) if ch in _AMBIGUOUS)


def _where_others_put_it(value: str, position: int) -> bool:
    """True when the è or æ at ``position`` stands where French or Danish/Norwegian put it."""
    letter = value[position].lower()
    if letter == "è":
        return position > 0 and bool(_FRENCH_GRAVE.match(value, position + 1))
    if letter == "æ":
        before = value[position - 1] if position > 0 else " "
        after = value[position + 1] if position + 1 < len(value) else " "
        return before not in _VOWELS and after not in _VOWELS and (before + after).strip() != ""
    return False  # ð: Icelandic text is not expected here


def region_reading(data: bytes) -> tuple[str, str] | None:
    """The encoding that most plausibly decodes ``data`` (see :data:`CANDIDATES`) and what the
    bytes say in it; None when none decodes them.

    Valid UTF-8 with letters beyond ASCII is almost never an accident, so UTF-8 comes first;
    Windows-1250 when its reading has letters of the region and no C1 controls; else
    Windows-1252, the Western European default.
    """
    readings: dict[str, str] = {}
    for candidate in CANDIDATES:
        try:
            readings[candidate] = data.decode(candidate)
        except UnicodeDecodeError:
            continue
    if "UTF-8" in readings:
        return "UTF-8", readings["UTF-8"]
    cp1250 = readings.get("cp1250")
    if cp1250 is not None and any(ch in REGION_LETTERS for ch in cp1250):
        return "cp1250", cp1250
    for candidate in ("cp1252", "cp1250"):
        if candidate in readings:
            return candidate, readings[candidate]
    return None
