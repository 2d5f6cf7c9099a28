"""Reading the bytes of a drop's files as they come: plain, ``.gz``, ``.bz2`` and ``.zip``.

A compressed file is decompressed in chunks (the compressed bytes are never held whole, except a
zip whose central directory is missing); a stream that ends early keeps every byte before the
break and says where it broke, so ingestion keeps the rows before it and reports the rest as never
delivered. A zip is an archive of sources: each member with a known suffix is one source file.
"""

from __future__ import annotations

import bz2
import shutil
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2"}
ARCHIVES = (".zip",)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Payload:
    """Decompressed bytes of one source, and what went wrong while reading them (None: complete)."""

    data: bytes
    broken: str | None = None  # e.g. "the gzip stream ends early after 1,204,224 bytes"


def split_compression(name: str) -> tuple[str, str | None]:
    """``voice_cdr_20261001.csv.gz`` → (``voice_cdr_20261001.csv``, ``gzip``); no compression: None."""
    p = Path(name)
    comp = COMPRESSIONS.get(p.suffix.lower())
    return (name[: -len(p.suffix)], comp) if comp else (name, None)


def _decompressor(compression: str) -> Any:
    # 31: a gzip header and trailer around the deflate stream
    return zlib.decompressobj(31) if compression == "gzip" else bz2.BZ2Decompressor()


def _chunks(path: Path, compression: str) -> Iterator[bytes | str]:
    """Decompressed chunks of a gzip / bz2 file; a final ``str`` says where the stream broke.

    Decompressor objects rather than ``gzip.open``: its ``read`` drops what it decoded of the last
    chunk when the stream ends early, and every byte before the break is a row to keep."""
    d = _decompressor(compression)
    produced = 0
    with path.open("rb") as fh:
        while raw := fh.read(CHUNK):
            while raw:
                try:
                    out = d.decompress(raw)
                except (zlib.error, OSError, EOFError) as e:
                    yield f"the {compression} stream is damaged after {produced:,} bytes ({e})"
                    return
                produced += len(out)
                yield out
                raw = d.unused_data if d.eof else b""
                if raw:  # concatenated members (gzip -c a >> f; gzip -c b >> f): go on
                    d = _decompressor(compression)
    if not d.eof:
        yield f"the {compression} stream ends early after {produced:,} bytes"


def read_bytes(path: Path, compression: str | None, member: str | None = None) -> Payload:
    """The (decompressed) bytes of a file or of one zip member."""
    if member is not None:
        return read_zip_member(path, member)
    if compression is None:
        return Payload(path.read_bytes())
    out = bytearray()
    for c in _chunks(path, compression):
        if isinstance(c, str):
            return Payload(bytes(out), c)
        out += c
    return Payload(bytes(out))


def copy_to(path: Path, compression: str | None, member: str | None, dest: Path) -> str | None:
    """Decompress a (Parquet) source into ``dest`` chunk by chunk; returns the break, if any."""
    if member is not None:
        p = read_zip_member(path, member)
        dest.write_bytes(p.data)
        return p.broken
    if compression is None:
        shutil.copyfile(path, dest)
        return None
    with dest.open("wb") as out:
        for c in _chunks(path, compression):
            if isinstance(c, str):
                return c
            out.write(c)
    return None


def _read_stream(opener: IO[bytes], label: str) -> Payload:
    """All bytes of an open stream (a zip member: zipfile decompresses it as it is read)."""
    out = bytearray()
    try:
        with opener as fh:
            while chunk := fh.read(CHUNK):
                out += chunk
    except (EOFError, OSError, zlib.error, ValueError, zipfile.BadZipFile) as e:
        return Payload(bytes(out), f"the {label} ends early after {len(out):,} bytes ({e})")
    return Payload(bytes(out))


# --- zip -----------------------------------------------------------------------------------------


def _local_headers(data: bytes) -> list[tuple[str, int, int, int | None]]:
    """(name, method, data offset, compressed size or None) of each local file header, in order.

    Used when the central directory (at the end of the archive) is missing: a zip cut short."""
    out: list[tuple[str, int, int, int | None]] = []
    pos = 0
    while data.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(data):
        flags, method = struct.unpack_from("<HH", data, pos + 6)
        csize = struct.unpack_from("<I", data, pos + 18)[0]
        nlen, elen = struct.unpack_from("<HH", data, pos + 26)
        name = data[pos + 30 : pos + 30 + nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        start = pos + 30 + nlen + elen
        known = None if flags & 0x08 else csize
        out.append((name, method, start, known))
        if known is None:
            break  # size only in a trailing descriptor: this member runs to the end we have
        pos = start + known
    return out


def zip_members(path: Path) -> tuple[list[str], str | None]:
    """Member names of a zip (directories left out), and a problem if the archive is damaged."""
    try:
        with zipfile.ZipFile(path) as z:
            return [i.filename for i in z.infolist() if not i.is_dir()], None
    except zipfile.BadZipFile as e:
        names = [n for n, *_ in _local_headers(path.read_bytes()) if not n.endswith("/")]
        return names, f"the zip archive is damaged ({e}); members read from their local headers"


def read_zip_member(path: Path, member: str) -> Payload:
    try:
        with zipfile.ZipFile(path) as z:
            return _read_stream(z.open(member), "zip member")
    except zipfile.BadZipFile:
        pass
    data = path.read_bytes()
    for name, method, start, csize in _local_headers(data):
        if name != member:
            continue
        raw = data[start : start + csize] if csize is not None else data[start:]
        if method == 0:
            short = csize is not None and len(raw) < csize
            return Payload(raw, f"the zip member ends early after {len(raw):,} bytes" if short else None)
        if method != 8:
            return Payload(b"", f"zip member {member}: compression method {method} is not supported")
        d = zlib.decompressobj(-15)
        try:
            out = d.decompress(raw)
        except zlib.error as e:
            return Payload(b"", f"the zip member's deflate stream is damaged ({e})")
        if not d.eof:
            return Payload(out, f"the zip archive ends early after {len(out):,} bytes of {member}")
        return Payload(out)
    return Payload(b"", f"zip member {member} not found")
