# SPDX-License-Identifier: Apache-2.0
"""The SDMX codes of the taxonomy's codes: valid SDMX ids that no spreadsheet reads as a number or a date.

The JSON API and the CSV files keep the taxonomy's codes; SDMX messages (SDMX-CSV data, the SDMX-ML structure
messages and their codelists) write each code as :func:`sdmx_code` gives it. The rules, applied in this order:

========================  ==================  ===========================================================
taxonomy code             SDMX code           why
========================  ==================  ===========================================================
``48+`` (an open band)    ``Y_GE48``          Eurostat's age convention (``Y_GE65``: 65 years or over)
``18-20`` (a band)        ``Y18-20``          Eurostat's ``Y15-24``; ``9-17`` would read as a date
``002`` (UN M49 area)     ``M49_002``         a spreadsheet drops the leading zeros of a number
``_any_info``             ``ANY_INFO``        a leading ``_`` is kept for SDMX's own codes (``_T``, ``_Z``)
anything else             unchanged           ``UA``, ``labour``, ``ForcedLabour``, ``F``
========================  ==================  ===========================================================

Every SDMX code matches :data:`SDMX_ID` (``[A-Za-z0-9_@$-]+``) and starts with a letter. The mapping is a
bijection within each dimension of the built-in taxonomies (checked by the tests); :class:`SdmxCodes` reads an
SDMX code back to the taxonomy's code of one dimension.

>>> [sdmx_code(code) for code in ("0-8", "48+", "unknown", "002", "UA", "_any_info")]
['Y0-8', 'Y_GE48', 'unknown', 'M49_002', 'UA', 'ANY_INFO']
>>> SdmxCodes(["0-8", "48+"]).code_of("Y_GE48")
'48+'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from protocol.errors import MalformedMessage

__all__ = ["SDMX_ID", "SdmxCodes", "sdmx_code"]

#: What an SDMX code (an ``IDType``) may hold; ours also start with a letter.
SDMX_ID: Final = re.compile(r"[A-Za-z][A-Za-z0-9_@$-]*")

_OPEN_BAND: Final = re.compile(r"([0-9]+)\+")
_BAND: Final = re.compile(r"[0-9]+-[0-9]+")
_NUMERIC: Final = re.compile(r"[0-9]+")
_RESERVED: Final = re.compile(r"_([A-Za-z0-9_]+)")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_@$-]")


def sdmx_code(code: str) -> str:
    """The SDMX code of a taxonomy code (see the table above); characters no rule covers become ``_``."""
    if matched := _OPEN_BAND.fullmatch(code):
        return f"Y_GE{matched.group(1)}"
    if _BAND.fullmatch(code):
        return f"Y{code}"
    if _NUMERIC.fullmatch(code):
        return f"M49_{code}"
    text = matched.group(1).upper() if (matched := _RESERVED.fullmatch(code)) else _UNSAFE.sub("_", code)
    return text if text[:1].isalpha() else f"X_{text}"


class SdmxCodes:
    """The SDMX codes of one dimension's codes, and back."""

    def __init__(self, codes: Iterable[str]) -> None:
        self._to: dict[str, str] = {}
        self._from: dict[str, str] = {}
        for code in codes:
            sdmx = sdmx_code(code)
            if self._from.get(sdmx, code) != code:
                raise MalformedMessage(f"codes {self._from[sdmx]!r} and {code!r} would share the SDMX code {sdmx!r}")
            self._to[code], self._from[sdmx] = sdmx, code

    def sdmx_of(self, code: str) -> str:
        """The SDMX code of ``code`` (any code: the rules do not need the dimension)."""
        return self._to.get(code) or sdmx_code(code)

    def code_of(self, sdmx: str) -> str:
        """The taxonomy code written ``sdmx``; :class:`MalformedMessage` if no code of the dimension is."""
        try:
            return self._from[sdmx]
        except KeyError:
            raise MalformedMessage(f"{sdmx!r} is the SDMX code of no code of this dimension") from None
