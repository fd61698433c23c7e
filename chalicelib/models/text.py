"""Text types of the request models: strings that refuse control characters and bidirectional overrides.

A refused character fails validation with the error type ``invalid_characters``, which
``chalicelib.api.responses.parse_body`` answers as 422 ``invalid_characters``. Refused everywhere:

- C0 controls U+0000–U+001F, DEL U+007F and C1 controls U+0080–U+009F (Unicode category Cc), except tab, line feed
  and carriage return in the fields that document newlines (``MultilineText``);
- the bidirectional embeddings and overrides U+202A–U+202E (LRE, RLE, PDF, LRO, RLO) and isolates U+2066–U+2069
  (LRI, RLI, FSI, PDI): they reorder the text that follows them, so a title or a file name can display differently
  from what it is (Unicode TR #36 §2.4; "Trojan Source", CVE-2021-42574).

The implicit marks U+200E, U+200F and U+061C (LRM, RLM, ALM) are allowed in text: they change the direction of the
neutral characters next to them only, and mixed Arabic or Hebrew titles need them. Download file names drop them too
(``chalicelib.services.filenames``).

The check runs on the raw input, before ``str_strip_whitespace``, so a control character at either end is refused
rather than silently stripped.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

#: The error type pydantic reports for a refused character.
INVALID_CHARACTERS = "invalid_characters"

_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
#: Every refused character of single-line text.
SINGLE_LINE_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_CONTROLS}]")
#: Every refused character of multi-line text: the same less tab (U+0009), LF (U+000A) and CR (U+000D).
MULTILINE_REFUSED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_CONTROLS}]")


def refused_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The refused characters of ``value`` as ``U+XXXX`` code points, each once, in order of appearance."""
    pattern = MULTILINE_REFUSED if multiline else SINGLE_LINE_REFUSED
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in pattern.findall(value)))


def _check(value: Any, *, multiline: bool) -> Any:
    if isinstance(value, str):
        found = refused_characters(value, multiline=multiline)
        if found:
            raise PydanticCustomError(
                INVALID_CHARACTERS,
                "contains control or bidirectional formatting characters: {characters}",
                {"characters": ", ".join(found)},
            )
    return value


def check_single_line(value: Any) -> Any:
    """A pydantic before-validator: ``value`` unchanged, or ``PydanticCustomError`` (``invalid_characters``) when
    it is a string holding a refused character. Non-strings pass through to the field's own type check."""
    return _check(value, multiline=False)


def check_multiline(value: Any) -> Any:
    """``check_single_line`` that also lets tab, LF and CR through."""
    return _check(value, multiline=True)


# The same rules as JSON Schema patterns (ECMA-262 and Python ``re`` read ``\uXXXX`` alike), for the OpenAPI document
# only: validation stays with the checks above, which answer ``invalid_characters`` and name the code points.
_SINGLE_LINE_CLASS = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_MULTILINE_CLASS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
#: What single-line text may hold.
SINGLE_LINE_PATTERN = f"^[^{_SINGLE_LINE_CLASS}]*$"
#: Single-line text with at least one character other than white space (the models strip surrounding white space
#: before checking a minimum length of 1).
NON_BLANK_SINGLE_LINE_PATTERN = f"^[^{_SINGLE_LINE_CLASS}]*[^\\s{_SINGLE_LINE_CLASS}][^{_SINGLE_LINE_CLASS}]*$"
#: What multi-line text may hold.
MULTILINE_PATTERN = f"^[^{_MULTILINE_CLASS}]*$"

#: A single-line string: no control character at all, no bidirectional override or isolate.
PlainText = Annotated[
    str, BeforeValidator(check_single_line), Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN})
]
#: ``PlainText`` of at least one character besides white space (give the length limits with another ``Field``).
NonBlankText = Annotated[PlainText, Field(json_schema_extra={"pattern": NON_BLANK_SINGLE_LINE_PATTERN})]
#: A string that may hold tabs and newlines (LF, CR) but no other control character, no bidi override or isolate.
MultilineText = Annotated[
    str, BeforeValidator(check_multiline), Field(json_schema_extra={"pattern": MULTILINE_PATTERN})
]
