"""POSIX ustar headers, written and read by hand.

The writer emits only plain files with short names, fixed owner and time, so the same input gives
the same bytes. The reader accepts only that: a regular file with a valid checksum. Links,
devices, directories and the pax/GNU extension headers (whose bodies a generic tar reader loads into
memory whatever their declared size) are refused, so nothing a hostile archive declares can point
outside the target or be allocated before it is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
RECORD = 20 * BLOCK  # GNU tar's default blocking; the archive is padded to a whole record
MAX_SIZE = 8 ** 11 - 1  # what 11 octal digits hold (8 GiB - 1)

_KINDS = {
    b"1": "a hard link", b"2": "a symbolic link", b"3": "a character device", b"4": "a block device",
    b"5": "a directory", b"6": "a FIFO", b"7": "a contiguous file", b"x": "a pax extended header",
    b"g": "a pax global header", b"L": "a GNU long name", b"K": "a GNU long link name",
}


class TarError(ValueError):
    """A header that is not one this format writes."""


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode("ascii") + b"\0"


def _template() -> tuple[bytes, int]:
    """A header without name and size, and the byte sum of the rest of its checksum's input."""
    block = bytearray(BLOCK)
    block[100:108] = _octal(0o644, 8)
    block[108:116] = _octal(0, 8)  # uid
    block[116:124] = _octal(0, 8)  # gid
    block[136:148] = _octal(0, 12)  # mtime: fixed, so output is reproducible
    block[148:156] = b" " * 8  # the checksum is summed as spaces
    block[156:157] = b"0"
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    return bytes(block), sum(block)


_TEMPLATE, _TEMPLATE_SUM = _template()


def header(name: str, size: int) -> bytes:
    encoded = name.encode("ascii")
    if len(encoded) > 100:
        raise ValueError(f"member name too long for ustar: {name}")
    if size > MAX_SIZE:
        raise ValueError(f"member {name} is {size} bytes, over the ustar limit of {MAX_SIZE}")
    size_field = _octal(size, 12)
    checksum = _TEMPLATE_SUM + sum(encoded) + sum(size_field)  # the block's byte sum, without a 512-byte loop
    t = _TEMPLATE
    return b"".join((encoded, t[len(encoded):124], size_field, t[136:148], f"{checksum:06o}".encode("ascii"),
                     b"\0 ", t[156:]))


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def end_of_archive(written: int) -> bytes:
    """Two zero blocks, then zeros to a whole record (as tar writes it)."""
    total = written + 2 * BLOCK
    return b"\0" * (2 * BLOCK + (-total % RECORD))


@dataclass(frozen=True)
class Member:
    name: str
    size: int

    @property
    def padded(self) -> int:
        return self.size + (-self.size % BLOCK)


def _parse_octal(field: bytes, what: str) -> int:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        raise TarError(f"bad {what} field {bytes(field)!r}")
    return int(text, 8)


def parse_header(block: bytes) -> Member | None:
    """The member a 512-byte header describes; None for a zero block (end of archive)."""
    if len(block) != BLOCK:
        raise TarError("short header block")
    if block == b"\0" * BLOCK:
        return None
    stored = _parse_octal(block[148:156], "checksum")
    computed = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    if stored != computed:
        raise TarError("header checksum mismatch")
    if block[257:263] not in (b"ustar\0", b"ustar "):
        raise TarError("not a ustar header")
    kind = block[156:157]
    if kind not in (b"0", b"\0"):
        raise TarError(f"member is {_KINDS.get(kind, f'of type {kind!r}')}; bundles hold regular files only")
    if block[345:500].strip(b"\0"):
        raise TarError("member name uses the ustar prefix field; bundle names are short")
    raw_name = block[0:100].split(b"\0", 1)[0]
    try:
        name = raw_name.decode("ascii")
    except UnicodeDecodeError:
        raise TarError(f"member name {raw_name!r} is not ASCII") from None
    return Member(name, _parse_octal(block[124:136], "size"))
