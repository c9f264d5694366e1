# SPDX-License-Identifier: Apache-2.0
"""Bytes to text: whether an export is text at all, which encoding it is in, and a stream that decodes it.

>>> detect_encoding("ext_PersonID;Notes\\r\\n1;Київ, звернення\\r\\n".encode("cp1251"), name="cases.csv")
'cp1251'

**Not text.** A file that starts like a ZIP archive (``.xlsx``, ``.ods``), an Excel 97-2003 workbook, a PDF, a
compressed or database file is refused by name, before anything is decoded, with the advice to save it as CSV.
A NUL character anywhere in the decoded text is refused with its line (text exports never hold one; a file full of
them is usually UTF-16 without a byte-order mark, and the error then says so).

**Encoding.** In this order: the encoding given (``--encoding``, or the mapping file's ``encoding``); a byte-order
mark (UTF-8, UTF-16, UTF-32); UTF-8. If the bytes are not UTF-8 they are taken to be an export from a Windows code
page, as is common in the region, and the node decides between Windows-1251 (Cyrillic) and Windows-1250 (Central
European) from the words in the file: Cyrillic words consist of high bytes only, while Central European words mix
diacritics (high bytes) with ASCII letters. When the file does not tell clearly (too few words, or both shapes),
the node refuses to guess and asks for ``--encoding``. Three more refusals keep a wrong decoding from going through:

* bytes that are *almost all* UTF-8 (most high bytes form valid UTF-8 sequences) with a few that are not: the file
  is damaged UTF-8, not a code-page export, and the error names the line of the first bad byte;
* a file given as ``cp1250`` whose words are clearly Cyrillic, or given as ``cp1251`` whose words are clearly
  Central European: one of the region's two code pages declared for the other;
* bytes the encoding does not define, named with their line.

**Speed.** The encoding is *decided* on a sample: the first mebibyte, and a mebibyte around the first byte that is
not UTF-8 (for damaged UTF-8, where the damage is; for a code page, where its letters start), and the first words
holding a high byte. Then the whole file is *checked* with one strict decode in the encoding chosen (C speed,
chunk by chunk) and a search for bytes neither code page defines. Judging "almost all UTF-8" over the whole file
cost 6 of the 7 seconds this took on a 1,000,000-row (200 MB) Windows-1251 export; the sample decides the same.

The whole file is checked before a row is read, so an encoding problem on the last line stops the read before it
starts. Checking and reading decode in chunks (:func:`text_stream`): the decoded text of the whole file is never
held in memory at once.
"""

from __future__ import annotations

import codecs
import io
import re
from typing import Final, NoReturn

from node.i18n import N_, Text
from node.inputs.errors import InputProblem, ProblemLog

__all__ = ["WINDOWS_CODEPAGES", "decode", "detect_encoding", "guess_windows_codepage", "text_stream"]

#: The region's two Windows code pages, in the order the guess prefers them.
WINDOWS_CODEPAGES: Final = ("cp1251", "cp1250")
_NAMES: Final = {
    "cp1251": Text(N_("Windows-1251 (Cyrillic)")),
    "cp1250": Text(N_("Windows-1250 (Central European)")),
}
_SIGNATURES: Final = (
    (
        b"PK\x03\x04",
        Text(N_("a ZIP archive (an Excel .xlsx or OpenDocument .ods spreadsheet, or a compressed export)")),
    ),
    (b"PK\x05\x06", Text(N_("an empty ZIP archive"))),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        Text(N_("an Excel 97-2003 .xls workbook (or another old Microsoft Office file)")),
    ),
    (b"%PDF-", Text(N_("a PDF document"))),
    (b"\x1f\x8b", Text(N_("a gzip-compressed file"))),
    (b"7z\xbc\xaf\x27\x1c", Text(N_("a 7-Zip archive"))),
    (b"Rar!\x1a\x07", Text(N_("a RAR archive"))),
    (b"BZh", Text(N_("a bzip2-compressed file"))),
    (b"\xfd7zXZ\x00", Text(N_("an xz-compressed file"))),
    (b"SQLite format 3\x00", Text(N_("an SQLite database"))),
    (b"{\\rtf", Text(N_("an RTF document"))),
)
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: A word holding at least one high byte. It starts at a word's start and never backtracks (possessive), so that a
#: long run of ASCII letters costs linear time, not quadratic.
_WORD = re.compile(rb"(?<![A-Za-z\x80-\xff])[A-Za-z]*+[\x80-\xff][A-Za-z\x80-\xff]*+")
_ASCII_LETTER = re.compile(rb"[A-Za-z]")
#: A valid UTF-8 multi-byte sequence (RFC 3629, section 4).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))
#: How many times more words of one shape than of the other make the code page clear.
_CLEAR_MAJORITY: Final = 3
#: Words of the other shape needed before a declared code page is called wrong.
_MISMATCH_MIN_WORDS: Final = 3
#: High-byte words looked at when guessing (enough to decide; a bound on the time a huge file takes).
_MAX_WORDS_EXAMINED: Final = 20_000
#: Share of high bytes in valid UTF-8 sequences above which a file that is not UTF-8 is called damaged UTF-8.
_DAMAGED_UTF8_SHARE: Final = 0.8
_CHUNK: Final = 1 << 20
_SNIFF_BYTES: Final = 4096
#: Bytes of each part of the sample the encoding is decided on (the file's start, and around its first non-UTF-8).
_SAMPLE_BYTES: Final = 1 << 20


def _undefined_bytes(codec: str) -> bytes:
    undefined = bytearray()
    for value in range(256):
        try:
            bytes([value]).decode(codec)
        except UnicodeDecodeError:
            undefined.append(value)
    return bytes(undefined)


#: Bytes each code page leaves undefined (a file holding one of them is not in that code page).
_UNDEFINED: Final = {codec: _undefined_bytes(codec) for codec in WINDOWS_CODEPAGES}


def detect_encoding(data: bytes, *, name: str, encoding: str | None = None, problems: ProblemLog | None = None) -> str:
    """The codec ``data`` is in, checked over the whole file; raises :class:`InputError` (see the module docstring)."""
    problems = problems if problems is not None else ProblemLog()
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            _fatal(
                problems,
                name,
                Text(
                    N_(
                        "a CSV or JSON text export; this file is %(kind)s. Open it in its program and save it as CSV "
                        "(UTF-8), or export CSV or JSON from the case-management system again"
                    ),
                    kind=kind,
                ),
            )
    declared = encoding is not None or _bom(data) is not None
    if not declared and (nul := data.find(b"\x00")) >= 0:
        _nul_problem(data.count(b"\n", 0, nul) + 1, data, name, problems, declared=False)
    codec = _choose(data, name, encoding, problems)
    _check_text(data, codec, name, problems, declared=declared)
    return codec


def decode(
    data: bytes, *, name: str, encoding: str | None = None, problems: ProblemLog | None = None
) -> tuple[str, str]:
    """``(text, encoding used)`` of a whole file (for small inputs; readers stream with :func:`text_stream`)."""
    codec = detect_encoding(data, name=name, encoding=encoding, problems=problems)
    return data.decode(codec), codec


def text_stream(data: bytes, codec: str) -> io.TextIOWrapper:
    """``data`` as a text stream (line endings untranslated, as the csv module wants), decoded chunk by chunk."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline="")


def sniff_text(data: bytes, codec: str) -> str:
    """The decoded start of ``data`` (a few thousand characters), to tell JSON from CSV."""
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(data[:_SNIFF_BYTES])


def guess_windows_codepage(data: bytes) -> str | None:
    """``"cp1251"``, ``"cp1250"`` or ``None`` (unclear) for bytes that are not UTF-8; see the module docstring."""
    candidates = [codec for codec in WINDOWS_CODEPAGES if _defines(data, codec)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return None
    return _clear_shape(*_word_shapes(data))


def _bom(data: bytes) -> str | None:
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def _choose(data: bytes, name: str, encoding: str | None, problems: ProblemLog) -> str:
    bom = _bom(data)
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            _fatal(
                problems,
                name,
                Text(
                    N_("a known text encoding such as utf-8, cp1251 or cp1250, not %(encoding)s"),
                    encoding=repr(encoding),
                ),
            )
        if bom == "utf-8-sig":
            if codec not in ("utf-8", "utf-8-sig"):
                _fatal(
                    problems,
                    name,
                    Text(N_("%(encoding)s text, but the file starts with a UTF-8 byte-order mark"), encoding=encoding),
                )
            codec = "utf-8-sig"
        if codec in WINDOWS_CODEPAGES:
            _check_declared_codepage(data, codec, name, problems)
        return codec
    if bom is not None:
        return bom
    error = _first_error(data, "utf-8")
    if error is None:
        return "utf-8"
    if _mostly_utf8(_sample(data, error.start)):
        _decoding_problem(
            data, "utf-8", error, name, problems, note=Text(N_("the rest of the file is UTF-8: it is damaged"))
        )
    if not any(_defines(data, codec) for codec in WINDOWS_CODEPAGES):
        position = _first_undefined_everywhere(data)
        line = data.count(b"\n", 0, position) + 1
        _fatal(
            problems,
            name,
            Text(
                N_(
                    "UTF-8, Windows-1251 or Windows-1250 text; byte %(byte)s on line %(line)s is none of them "
                    "(is this a text export?). If you know its encoding, pass --encoding"
                ),
                byte=f"{data[position]:#04x}",
                line=line,
            ),
            line,
        )
    guess = guess_windows_codepage(data)
    if guess is None:
        _fatal(
            problems,
            name,
            Text(
                N_(
                    "UTF-8 text; this file is not UTF-8, and it does not tell clearly whether it is Windows-1251 "
                    "(Cyrillic) or Windows-1250 (Central European): pass --encoding cp1251 or --encoding cp1250"
                )
            ),
        )
    return guess


def _check_declared_codepage(data: bytes, codec: str, name: str, problems: ProblemLog) -> None:
    """Refuse one of the region's code pages declared for a file that is clearly in the other one."""
    cyrillic, central = _word_shapes(data)
    looks = _clear_shape(cyrillic, central)
    other_words = cyrillic if looks == "cp1251" else central
    if looks is None or looks == codec or other_words < _MISMATCH_MIN_WORDS:
        return
    _fatal(
        problems,
        name,
        Text(
            N_(
                "%(declared)s text, as the encoding given says; but its words look like %(looks)s (%(cyrillic)s "
                "Cyrillic-looking and %(central)s Central European-looking words): check --encoding (or the mapping "
                "file's encoding), which should probably be %(codec)s"
            ),
            declared=_NAMES[codec],
            looks=_NAMES[looks],
            cyrillic=f"{cyrillic:,}",
            central=f"{central:,}",
            codec=looks,
        ),
    )


def _word_shapes(data: bytes) -> tuple[int, int]:
    """``(Cyrillic-looking, Central European-looking)`` words among the first words holding a high byte."""
    cyrillic = central = 0
    for examined, match in enumerate(_WORD.finditer(data)):
        if examined >= _MAX_WORDS_EXAMINED:
            break
        word = match.group()
        if _ASCII_LETTER.search(word):
            central += 1  # diacritics among ASCII letters: Łódź, Chișinău, příliš
        elif len(word) >= 3:
            cyrillic += 1  # three or more letters, all high bytes: Київ, Москва
    return cyrillic, central


def _clear_shape(cyrillic: int, central: int) -> str | None:
    if cyrillic and cyrillic >= _CLEAR_MAJORITY * central:
        return "cp1251"
    if central and central >= _CLEAR_MAJORITY * cyrillic:
        return "cp1250"
    return None


def _defines(data: bytes, codec: str) -> bool:
    return not any(bytes([value]) in data for value in _UNDEFINED[codec])


def _first_undefined_everywhere(data: bytes) -> int:
    """Where the first byte no code page defines is (a file none of them decodes holds one; else the first byte
    the first code page leaves undefined)."""
    common = set(_UNDEFINED[WINDOWS_CODEPAGES[0]]).intersection(*(_UNDEFINED[c] for c in WINDOWS_CODEPAGES[1:]))
    for values in (common, set(_UNDEFINED[WINDOWS_CODEPAGES[0]])):
        found = [i for i in (data.find(bytes([value])) for value in values) if i >= 0]
        if found:
            return min(found)
    return 0  # pragma: no cover - only called when no code page decodes the data


def _sample(data: bytes, around: int) -> bytes:
    """The file's first :data:`_SAMPLE_BYTES`, and as many around position ``around`` (whole, if it is small)."""
    if len(data) <= 2 * _SAMPLE_BYTES:
        return data
    start = max(_SAMPLE_BYTES, around - _SAMPLE_BYTES // 2)
    return data[:_SAMPLE_BYTES] + b"\n" + data[start : start + _SAMPLE_BYTES]


def _mostly_utf8(data: bytes) -> bool:
    """Whether most high bytes form valid UTF-8 sequences (so the few that do not are damage, not a code page)."""
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    outside = len(_UTF8_SEQUENCE.sub(b"", data).translate(None, bytes(range(0x80)))) if high else 0
    return high > 0 and (high - outside) >= _DAMAGED_UTF8_SHARE * high


def _first_error(data: bytes, codec: str) -> UnicodeDecodeError | None:
    """The first decoding error of ``data`` (offsets into ``data``), decoding chunk by chunk."""
    decoder = codecs.getincrementaldecoder(codec)()
    for start in range(0, max(len(data), 1), _CHUNK):
        chunk = data[start : start + _CHUNK]
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as e:
            offset = start - pending
            return UnicodeDecodeError(e.encoding, data, offset + e.start, offset + e.end, e.reason)
    return None


def _check_text(data: bytes, codec: str, name: str, problems: ProblemLog, *, declared: bool) -> None:
    """Every byte decodes and no NUL character is in the text (a NUL is refused with its line)."""
    decoder = codecs.getincrementaldecoder(codec)()
    lines = 0
    for start in range(0, max(len(data), 1), _CHUNK):
        chunk = data[start : start + _CHUNK]
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk, final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as e:
            offset = start - pending
            error = UnicodeDecodeError(e.encoding, data, offset + e.start, offset + e.end, e.reason)
            _decoding_problem(data, codec, error, name, problems)
        nul = text.find("\x00")
        if nul >= 0:
            _nul_problem(lines + text.count("\n", 0, nul) + 1, data, name, problems, declared=declared)
        lines += text.count("\n")


def _nul_problem(line: int, data: bytes, name: str, problems: ProblemLog, *, declared: bool) -> NoReturn:
    hint = "" if declared else _utf16_hint(data)
    _fatal(
        problems,
        name,
        Text(
            N_(
                "text; this file contains NUL characters (the first on line %(line)s): is it a spreadsheet or "
                "another program's file rather than a CSV or JSON export?%(hint)s"
            ),
            line=line,
            hint=hint,
        ),
        line,
    )


def _utf16_hint(data: bytes) -> str:
    """A hint when the NULs sit at every other byte: UTF-16 text without its byte-order mark."""
    sample = data[:_SNIFF_BYTES]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = max(len(sample) // 2, 1)
    if odd >= 0.3 * half and even < 0.05 * half:
        return Text(N_(" It looks like UTF-16 text without a byte-order mark: pass --encoding utf-16-le"))
    if even >= 0.3 * half and odd < 0.05 * half:
        return Text(N_(" It looks like UTF-16 text without a byte-order mark: pass --encoding utf-16-be"))
    return ""


def _decoding_problem(
    data: bytes, codec: str, error: UnicodeDecodeError, name: str, problems: ProblemLog, note: str = ""
) -> NoReturn:
    line = data[: error.start].decode(codec, errors="replace").count("\n") + 1
    if error.start >= len(data) - 4 and error.reason in ("unexpected end of data", "truncated data"):
        what = Text(N_("the file ends in the middle of a character (was it cut short?)"))
    else:
        what = Text(N_("byte %(byte)s on line %(line)s is not"), byte=f"{data[error.start]:#04x}", line=line)
    noted = Text(N_(" (%(note)s)"), note=note) if note else ""
    _fatal(problems, name, Text(N_("%(codec)s text; %(what)s%(note)s"), codec=codec, what=what, note=noted), line)


def _fatal(problems: ProblemLog, name: str, expected: str, row: int | None = None) -> NoReturn:
    problems.add(InputProblem(name, row, None, expected))
    raise problems.error()
