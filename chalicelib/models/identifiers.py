"""Industry identifiers of the catalogue: ISRC (recordings) and UPC-A / EAN-13 (releases), normalised and validated.

Sources: the IFPI *ISRC Handbook* (4th edition, §4: ``CC-XXX-YY-NNNNN``, 12 characters, letters and digits only in the
registrant code) and the GS1 *General Specifications* (§7.9: the mod-10 check digit of GTIN-12 / GTIN-13).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

#: ``\d`` would also match non-ASCII digits in a str pattern, so the digits are spelled out.
ISRC_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_isrc(value: str) -> str:
    """The 12-character compact form of an ISRC, e.g. ``"ISRC US-RC1-76-07839"`` → ``"USRC17607839"``.

    Strips a leading ``ISRC`` label, hyphens and white space, and upper-cases. Raises ``ValueError`` when the result
    does not match ``^[A-Z]{2}[A-Z0-9]{3}\\d{7}$`` (country code, registrant code, year of reference, designation code).
    """
    compact = _SEPARATORS.sub("", value)
    if not compact.isascii():
        raise ValueError("not a valid ISRC: only ASCII letters and digits, e.g. USRC17607839")
    compact = compact.upper()
    if compact.startswith("ISRC") and len(compact) == 16:
        compact = compact[4:]
    if not ISRC_PATTERN.fullmatch(compact):
        raise ValueError("not a valid ISRC: expected CC-XXX-YY-NNNNN (12 letters and digits), e.g. USRC17607839")
    return compact


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of the digits ``body`` (a GTIN without its last digit).

    From the right, digits are weighted 3, 1, 3, 1…; the check digit brings the weighted sum to a multiple of 10.
    """
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalise_upc(value: str) -> str:
    """A UPC-A (12 digits) or EAN-13 (13 digits) release code, separators removed, check digit verified.

    ``"0 36000 24145 7"`` → ``"036000241457"``. Raises ``ValueError`` for other lengths, non-digits or a wrong check
    digit. The code is kept at the length it was given (a UPC-A is an EAN-13 with a leading zero, but labels and DSPs
    quote them as issued).
    """
    compact = _SEPARATORS.sub("", value)
    if not compact.isascii() or not compact.isdigit() or len(compact) not in (12, 13):
        raise ValueError("not a valid UPC/EAN: expected 12 (UPC-A) or 13 (EAN-13) digits")
    if gtin_check_digit(compact[:-1]) != int(compact[-1]):
        raise ValueError("not a valid UPC/EAN: the check digit does not match (GS1 mod-10)")
    return compact


#: A pydantic string type that normalises and validates an ISRC.
Isrc = Annotated[str, AfterValidator(normalise_isrc)]
#: A pydantic string type that normalises and validates a UPC-A / EAN-13.
Upc = Annotated[str, AfterValidator(normalise_upc)]
