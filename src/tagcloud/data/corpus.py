"""Broken exports made on purpose, with what ingestion must make of each row: the robustness corpus.

``build_drop(folder, spec)`` writes one file of ``data_xdr`` rows (it has a phone number, integers,
big integers, a timestamp and free text) in the form ``spec`` asks for — delimiter, encoding, BOM,
CRLF, compression, a break in the compressed stream — and each row in one :data:`VARIANTS` form, and
returns the :class:`Expected` outcome of every row. ``check(report, wh, expected)`` holds a run's
report, ledger and warehouse against it and returns a :class:`Tally` whose ``violations`` must be
empty. ``FAMILIES`` are the hand-made cases; ``tests/robustness`` generates more with hypothesis
and ``bench/robustness.py`` prints the tallies per family.

The law checked: no crash (a failed file carries an ``IngestError`` message, never an unexpected
exception); rows read = accepted + quarantined, each quarantined row with a reason code; every
undamaged row delivered is accepted with its canonical values (damage costs only damaged rows);
normalised values are counted; a stream that ends early loses only the rows after the break, and
the report says so; the ledger agrees with the report.
"""

from __future__ import annotations

import bz2
import gzip
import io
import random
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tagcloud.data.quarantine import Reason

TABLE = "data_xdr"
COLUMNS = (
    "record_id",
    "msisdn",
    "start_time",
    "duration_s",
    "cell_id",
    "rat",
    "host",
    "uri_path",
    "server_ip",
    "server_port",
    "bytes_up",
    "bytes_down",
)
NOW = datetime(2026, 11, 23, 12, 0, 0)  # "the future" starts here
DAY = "2026-10-01"
CHINESE = "歌曲搜索小说视频游戏广州长沙"  # every one a GBK character whose bytes are not UTF-8
RARE = "䶮𠀀"  # GB18030 four-byte characters: not in GBK, decoded since GBK files are read as GB18030


def good_row(i: int) -> dict[str, str]:
    """A valid ``data_xdr`` row as text; record ids 1..n, unique."""
    return {
        "record_id": str(i),
        "msisdn": f"138{i % 100_000_000:08d}",
        "start_time": f"{DAY} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}",
        "duration_s": str(i % 3600),
        "cell_id": "",
        "rat": ("2G", "3G", "4G", "5G")[i % 4],
        "host": f"h{i % 7}.example.cn",
        "uri_path": f"/p/{i}",
        "server_ip": f"10.0.{i % 256}.{(i * 3) % 256}",
        "server_port": "443",
        "bytes_up": str(100 + i),
        "bytes_down": str(2000 + i),
    }


def _full(s: str) -> str:
    return s.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


@dataclass(frozen=True)
class Variant:
    """One way of writing a row: the fields changed (as written), the outcome, normalised or not."""

    fields: Callable[[dict[str, str]], dict[str, str]]
    outcome: str  # "accept", or a Reason value
    normalised: bool = False
    text_only: bool = False  # the variant changes bytes, not fields (applied by _line)


def _msisdn(f: Callable[[str], str]) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda r: {"msisdn": f(r["msisdn"])}


def _time(fmt: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda r: {"start_time": datetime.fromisoformat(r["start_time"]).strftime(fmt)}


VARIANTS: dict[str, Variant] = {
    "good": Variant(lambda r: {}, "accept"),
    # phone numbers as an operator's systems write them: normalised, counted, accepted
    "phone_plus86": Variant(_msisdn(lambda m: "+86" + m), "accept", True),
    "phone_0086_spaces": Variant(_msisdn(lambda m: f"0086 {m[:3]} {m[3:7]} {m[7:]}"), "accept", True),
    "phone_dashes": Variant(_msisdn(lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}"), "accept", True),
    "phone_full_width": Variant(_msisdn(_full), "accept", True),
    "phone_86_parens": Variant(_msisdn(lambda m: f"86 ({m[:3]}) {m[3:]}"), "accept", True),
    "phone_too_short": Variant(_msisdn(lambda m: m[:7]), Reason.BAD_NUMBER_FORMAT.value),
    # numbers
    "number_thousands": Variant(lambda r: {"bytes_down": f"{int(r['bytes_down']):,}"}, "accept", True),
    "number_full_width": Variant(lambda r: {"duration_s": _full(r["duration_s"])}, "accept", True),
    "number_scientific": Variant(lambda r: {"bytes_up": f"{int(r['bytes_up']):.6E}"}, "accept"),
    "number_fraction": Variant(lambda r: {"server_port": "443.5"}, Reason.BAD_TYPE.value),
    "number_decimal_comma": Variant(lambda r: {"bytes_up": "1,5"}, Reason.BAD_TYPE.value),
    # six date formats: two the cast reads, three normalised, one ambiguous (refused)
    "date_slashes": Variant(_time("%Y/%m/%d %H:%M:%S"), "accept"),
    "date_iso_t": Variant(_time("%Y-%m-%dT%H:%M:%S"), "accept"),
    "date_compact": Variant(_time("%Y%m%d%H%M%S"), "accept", True),
    "date_dots": Variant(_time("%Y.%m.%d %H:%M:%S"), "accept", True),
    "date_chinese": Variant(_time("%Y年%m月%d日 %H:%M:%S"), "accept", True),
    "date_day_first": Variant(_time("%d/%m/%Y %H:%M:%S"), Reason.BAD_TYPE.value),
    # free text with the delimiter, quotes and Chinese inside a quoted field
    "quoted_separators": Variant(lambda r: {"uri_path": '/q?a=1,2|3\t4 "x" 歌曲'}, "accept"),
    "chinese_text": Variant(lambda r: {"uri_path": "/" + CHINESE[int(r["record_id"]) % 10 :]}, "accept"),
    # damaged lines: each costs only itself
    "nul_byte": Variant(lambda r: {}, Reason.ENCODING_ERROR.value, text_only=True),
    "bad_bytes": Variant(lambda r: {}, Reason.ENCODING_ERROR.value, text_only=True),
    "other_encoding": Variant(
        lambda r: {"uri_path": "/" + CHINESE}, Reason.ENCODING_ERROR.value, text_only=True
    ),
    "missing_field": Variant(lambda r: {}, Reason.TRUNCATED_ROW.value, text_only=True),
    "extra_field": Variant(lambda r: {}, Reason.TRUNCATED_ROW.value, text_only=True),
    "blank": Variant(lambda r: {}, "none", text_only=True),  # a blank line: not a row
}
# variants whose bytes depend on the file's encoding in ways only a UTF-8 or GBK file shows
GB_ONLY = {"rare_gb18030"}
VARIANTS["rare_gb18030"] = Variant(lambda r: {"uri_path": "/" + RARE}, "accept")


@dataclass(frozen=True)
class Spec:
    """How one generated file is written."""

    variants: tuple[str, ...]  # one per row, in order
    delimiter: str = ","
    encoding: str = "utf-8"  # utf-8 | gbk (written as GB18030)
    bom: bool = False
    crlf: bool = False
    compression: str | None = None  # None | gzip | bz2 | zip
    cut: float | None = None  # keep this share of the compressed bytes (a transfer that broke off)
    name: str = f"{TABLE}_20261001"
    whole_gb_lines: bool = False  # "other_encoding" lines of a UTF-8 file are clean GB18030


@dataclass
class Expected:
    """What ingestion must report for one generated file."""

    path: Path
    rows: dict[int, tuple[str, dict[str, str], bool]]  # record id → (outcome, canonical values, normalised)
    lines: int  # data lines delivered (non-blank), the rows ingestion must read
    broken: bool = False  # the compressed stream was cut: the report must say so
    never_arrived: int = 0  # rows written after the break


def _quote(v: str, d: str) -> str:
    return '"' + v.replace('"', '""') + '"' if (d in v or '"' in v or "\t" in v or "," in v) else v


def _line(kind: str, row: dict[str, str], d: str, enc: str, whole_gb: bool = False) -> bytes:
    """The bytes of one row written in variant ``kind``."""
    if kind == "blank":
        return b""
    codec = "gb18030" if enc == "gbk" else enc
    fields = [_quote(row[c], d) for c in COLUMNS]
    if kind == "missing_field":
        fields = fields[:-3]
    elif kind == "extra_field":
        fields = [*fields, "surplus"]
    b = d.join(fields).encode(codec)
    if kind == "nul_byte":
        b = b[:5] + b"\x00" + b[5:]
    elif kind == "bad_bytes":
        b = b[:5] + b"\xff\xfe" + b[5:]
    elif kind == "other_encoding":
        # a line from another system in the other encoding: GB18030 in a UTF-8 file, and in a
        # GBK file a UTF-8 line with a byte that is not GB18030 (0xFF) so it cannot be misread
        b = d.join(fields).encode("gb18030" if enc == "utf-8" else "utf-8")
        if enc != "utf-8" or not whole_gb:
            # a UTF-8 line in a GBK file mostly reads as GBK, and GB lines can outvote a UTF-8
            # file's own lines (docs/ingestion.md, "one encoding per file"): this byte decodes in
            # neither, so the line is damaged whatever the file is read as
            b += b"\xff"
    return b


def canonical(kind: str, row: dict[str, str]) -> dict[str, str]:
    """The values the warehouse must hold for an accepted row (text, as the checks compare)."""
    out = dict(row)
    if kind in ("quoted_separators", "chinese_text", "rare_gb18030"):
        out.update(VARIANTS[kind].fields(row))
    return out


def build_drop(folder: Path, spec: Spec) -> Expected:
    """Write one file into ``folder/data_xdr/`` as ``spec`` says; return what ingestion must report."""
    d, enc = spec.delimiter, spec.encoding
    lines = [d.join(COLUMNS).encode("utf-8")]
    rows: list[tuple[int, str, dict[str, str]]] = []
    for i, kind in enumerate(spec.variants, start=1):
        row = good_row(i)
        written = row | VARIANTS[kind].fields(row)
        lines.append(_line(kind, written, d, enc, spec.whole_gb_lines))
        rows.append((i, kind, row))
    eol = b"\r\n" if spec.crlf else b"\n"
    data = (b"\xef\xbb\xbf" if spec.bom and enc == "utf-8" else b"") + eol.join(lines) + eol
    suffix = ".csv"
    payload = data
    if spec.compression == "gzip":
        payload, suffix = gzip.compress(data), ".csv.gz"
    elif spec.compression == "bz2":
        payload, suffix = bz2.compress(data), ".csv.bz2"
    elif spec.compression == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(spec.name + ".csv", data)
        payload, suffix = buf.getvalue(), ".zip"
    delivered = data
    broken = False
    if spec.compression and spec.cut is not None:
        payload = payload[: max(1, int(len(payload) * spec.cut))]
        delivered = _delivered(payload, spec.compression)
        broken = delivered != data
    path = folder / TABLE / (spec.name + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)

    # which lines arrived whole, which one was cut, which never came
    body = delivered[len(b"\xef\xbb\xbf") :] if delivered.startswith(b"\xef\xbb\xbf") else delivered
    parts = body.split(b"\n")
    whole = len(parts) - 1  # lines followed by a newline (the header is one)
    partial = parts[-1] if broken else b""
    expected: dict[int, tuple[str, dict[str, str], bool]] = {}
    n_lines = 0
    after = 0
    for k, (i, kind, row) in enumerate(rows, start=1):
        v = VARIANTS[kind]
        if k < whole:
            if v.outcome == "none":
                continue
            n_lines += 1
            expected[i] = (v.outcome, canonical(kind, row), v.normalised)
        elif k == whole and partial.strip(b"\r"):
            n_lines += 1
            expected[i] = (Reason.TRUNCATED_ROW.value, row, False)
        elif v.outcome != "none":
            after += 1
    return Expected(path, expected, n_lines, broken, after)


def _delivered(payload: bytes, compression: str) -> bytes:
    """What a decompressor makes of a cut compressed file: every byte before the break."""
    if compression == "gzip":
        dz = zlib.decompressobj(31)
        return dz.decompress(payload)
    if compression == "bz2":
        db = bz2.BZ2Decompressor()
        try:
            return db.decompress(payload)
        except (OSError, EOFError):
            return b""
    # zip: the member's deflate stream after its local header
    import struct

    nlen, elen = struct.unpack_from("<HH", payload, 26) if len(payload) >= 30 else (0, 0)
    start = 30 + nlen + elen
    if len(payload) <= start:
        return b""
    return zlib.decompressobj(-15).decompress(payload[start:])


# --- holding a run to the law --------------------------------------------------------------------


@dataclass
class Tally:
    """Counts of one family of inputs, and every breach of the law found."""

    inputs: int = 0
    crashes: int = 0
    refused: int = 0  # files refused whole with a clear message (header-only garbage, cut Parquet …)
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    normalised: int = 0
    lost: int = 0  # rows delivered that are neither accepted nor quarantined
    violations: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for k in ("inputs", "crashes", "refused", "read", "accepted", "quarantined", "normalised", "lost"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.violations += other.violations


def check(report: Any, wh: Any, expected: list[Expected], refused_ok: set[str] | None = None) -> Tally:
    """Hold an ingest report, its ledger and the warehouse to the law for the generated files.

    ``refused_ok``: names of files that may be refused whole (their damage leaves nothing readable).
    """
    from tagcloud.data.ledger import FileStatus

    tally = Tally(inputs=len(report.files))
    v = tally.violations
    by_name = {Path(f.source_path.split("!")[0]).name: f for f in report.files}
    for f in report.files:
        if f.status is FileStatus.FAILED:
            if f.unexpected:
                tally.crashes += 1
                v.append(f"crash on {f.source_path}: {f.error}")
            tally.refused += 1
        if f.read != f.accepted + f.quarantined:
            v.append(f"{f.source_path}: read {f.read} ≠ accepted {f.accepted} + quarantined {f.quarantined}")
        if sum(f.reasons.values()) != f.quarantined or not set(f.reasons) <= {r.value for r in Reason}:
            v.append(f"{f.source_path}: reasons {f.reasons} do not add up to {f.quarantined}")
        tally.read += f.read
        tally.accepted += f.accepted
        tally.quarantined += f.quarantined
        tally.normalised += f.normalised
    con = wh.connect()
    for e in expected:
        f = by_name.get(e.path.name)
        if f is None:
            v.append(f"{e.path.name}: not in the report")
            tally.lost += e.lines
            continue
        if f.status is FileStatus.FAILED:
            if refused_ok is None or e.path.name not in refused_ok:
                v.append(f"{e.path.name}: refused whole ({f.error}); {e.lines} rows lost")
                tally.lost += e.lines
            continue
        if f.status is not FileStatus.INGESTED:
            continue
        if f.read != e.lines:
            v.append(f"{e.path.name}: read {f.read} rows, {e.lines} were delivered")
            tally.lost += max(0, e.lines - f.read)
        if e.broken and not f.broken:
            v.append(f"{e.path.name}: the stream was cut but the report does not say so")
        want_acc = {i for i, (o, _, _) in e.rows.items() if o == "accept"}
        src = str(f.source_path)
        files = [str(p) for p in wh.table_files(TABLE) if p.stem == f.stem or p.stem.startswith(f.stem + "-")]
        held = (
            {
                int(r[0]): r
                for r in con.execute(
                    "SELECT "
                    + ", ".join(f'CAST("{c}" AS VARCHAR)' for c in COLUMNS)
                    + " FROM read_parquet(?)",
                    [files],
                ).fetchall()
            }
            if files
            else {}
        )
        got_acc = set(held)
        if got_acc != want_acc:
            v.append(
                f"{e.path.name}: accepted ids differ: missing {sorted(want_acc - got_acc)[:5]}, "
                f"unexpected {sorted(got_acc - want_acc)[:5]}"
            )
        kept = (
            con.execute("SELECT count(*) FROM quarantine WHERE source_file = ?", [src]).fetchone()
            if f.quarantined
            else (0,)
        )
        if kept is None or kept[0] != f.quarantined:
            v.append(f"{e.path.name}: quarantine holds {kept} rows, the report {f.quarantined}")
        want_q = {i: o for i, (o, _, _) in e.rows.items() if o != "accept"}
        if f.quarantined != len(want_q):
            v.append(f"{e.path.name}: quarantined {f.quarantined} ({f.reasons}), expected {len(want_q)}")
        want_reasons: dict[str, int] = {}
        for o in want_q.values():
            want_reasons[o] = want_reasons.get(o, 0) + 1
        if f.reasons != want_reasons:
            v.append(f"{e.path.name}: reasons {f.reasons}, expected {want_reasons}")
        want_norm = sum(1 for o, _, n in e.rows.values() if o == "accept" and n)
        if f.normalised != want_norm:
            v.append(f"{e.path.name}: {f.normalised} rows counted as normalised, expected {want_norm}")
        # accepted values are the canonical ones
        if want_acc and got_acc == want_acc:
            for i in sorted(want_acc):
                _, values, _ = e.rows[i]
                got = dict(zip(COLUMNS, held[i], strict=True))
                for c in ("msisdn", "start_time", "duration_s", "bytes_up", "bytes_down", "uri_path"):
                    if (got[c] or "") != values[c]:
                        v.append(f"{e.path.name}: row {i} {c} = {got[c]!r}, expected {values[c]!r}")
                        break
    # the ledger agrees with the report
    with wh.ledger() as led:
        rows = led.con.execute(
            "SELECT source_path, rows_read, rows_accepted, rows_quarantined, rows_normalised, summary "
            "FROM files WHERE run_id = ?",
            (report.run_id,),
        ).fetchall()
        reasons = dict(
            led.con.execute(
                "SELECT source_path, sum(rows) FROM reason_counts WHERE run_id = ? GROUP BY 1",
                (report.run_id,),
            ).fetchall()
        )
    ledger = {r[0]: r for r in rows}
    for f in report.files:
        row = ledger.get(f.source_path)
        if row is None:
            v.append(f"{f.source_path}: not recorded in the ledger")
            continue
        if tuple(row[1:5]) != (f.read, f.accepted, f.quarantined, f.normalised):
            v.append(f"{f.source_path}: ledger counts {row[1:5]} differ from the report")
        if (reasons.get(f.source_path) or 0) != f.quarantined:
            v.append(f"{f.source_path}: ledger reason counts {reasons.get(f.source_path)} ≠ {f.quarantined}")
        if not row[5]:
            v.append(f"{f.source_path}: no summary in the ledger")
    return tally


def random_spec(rng: random.Random, rows: int = 30) -> Spec:
    """A random file: random variants, delimiter, encoding, BOM, CRLF, compression and break."""
    kinds = [k for k in VARIANTS if k not in GB_ONLY]
    enc = rng.choice(["utf-8", "gbk"])
    if enc == "gbk":
        kinds.append("rare_gb18030")
    comp = rng.choice([None, None, "gzip", "bz2", "zip"])
    return Spec(
        tuple(rng.choice(kinds) for _ in range(rows)),
        delimiter=rng.choice([",", "|", "\t"]),
        encoding=enc,
        bom=rng.random() < 0.3,
        crlf=rng.random() < 0.3,
        compression=comp,
        cut=rng.uniform(0.2, 0.95) if comp and rng.random() < 0.4 else None,
    )


# --- the hand-made families ----------------------------------------------------------------------


def _ingest(src: Path, wh: Any) -> Any:
    from tagcloud.data.ingest import IngestOptions, ingest

    return ingest(src, wh, IngestOptions(now=NOW, quiet=True, threads=1))


def _specs_family(specs: list[Spec]) -> Callable[[Path, random.Random], Tally]:
    """A family of generated files, each in its own drop folder and ingested into one warehouse."""

    def run(work: Path, rng: random.Random) -> Tally:
        from tagcloud.data.warehouse import Warehouse

        tally = Tally()
        for k, spec in enumerate(specs):
            wh = Warehouse(work / f"wh{k}")
            e = build_drop(work / f"drop{k}", spec)
            tally.add(
                check(_ingest(work / f"drop{k}", wh), wh, [e], {e.path.name} if e.lines == 0 else set())
            )
        return tally

    return run


def _mix(*kinds: str, n: int = 3) -> tuple[str, ...]:
    return tuple(k for k in kinds for _ in range(n)) + ("good",) * n


def _refused(work: Path, files: dict[str, bytes], expect: dict[str, str]) -> Tally:
    """Files that must each be refused whole with a message containing ``expect[name]``."""
    from tagcloud.data.ledger import FileStatus
    from tagcloud.data.warehouse import Warehouse

    drop = work / "drop" / TABLE
    drop.mkdir(parents=True)
    for name, data in files.items():
        (drop / name).write_bytes(data)
    wh = Warehouse(work / "wh")
    report = _ingest(work / "drop", wh)
    tally = check(report, wh, [], set(files))
    for f in report.files:
        name = Path(f.source_path).name
        want = expect.get(name)
        if want is not None and (f.status is not FileStatus.FAILED or want not in (f.error or "")):
            tally.violations.append(
                f"{name}: expected refusal mentioning {want!r}, got {f.status}: {f.error}"
            )
    return tally


def _random_bytes(work: Path, rng: random.Random) -> Tally:
    files = {f"{TABLE}_2026100{i}.csv": rng.randbytes(rng.randint(1, 4096)) for i in range(1, 6)}
    files |= {f"{TABLE}_2026101{i}.parquet": rng.randbytes(rng.randint(1, 4096)) for i in range(1, 4)}
    files[f"{TABLE}_20261021.csv.gz"] = rng.randbytes(300)
    files[f"{TABLE}_20261022.zip"] = b"PK\x03\x04" + rng.randbytes(200)
    return _refused(work, files, {})


def _columns(work: Path, rng: random.Random) -> Tally:
    head = ",".join(COLUMNS)
    row = ",".join(good_row(1)[c] for c in COLUMNS)
    files = {
        f"{TABLE}_20261001.csv": (",".join(COLUMNS[:-1]) + "\n" + row + "\n").encode(),
        f"{TABLE}_20261002.csv": (head + ",surplus\n" + row + ",x\n").encode(),
        f"{TABLE}_20261003.csv": b"",
    }
    tally = _refused(
        work,
        files,
        {
            f"{TABLE}_20261001.csv": "missing bytes_down",
            f"{TABLE}_20261002.csv": "unexpected 'surplus'",
            f"{TABLE}_20261003.csv": "empty file",
        },
    )
    # a header-only file is read: no rows, nothing refused
    from tagcloud.data.warehouse import Warehouse

    (work / "h" / TABLE).mkdir(parents=True)
    (work / "h" / TABLE / f"{TABLE}_20261004.csv").write_text(head + "\r\n")
    wh = Warehouse(work / "wh2")
    report = _ingest(work / "h", wh)
    t2 = check(report, wh, [])
    if report.files[0].error or report.files[0].read != 0:
        t2.violations.append(f"header-only file: {report.files[0].status} {report.files[0].error}")
    tally.add(t2)
    return tally


def _parquet(work: Path, rng: random.Random) -> Tally:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [good_row(i) for i in range(1, 201)]
    rows[5]["msisdn"] = "+86 " + rows[5]["msisdn"]
    tbl = pa.table({c: [r[c] or None for r in rows] for c in COLUMNS})  # every column text
    buf = io.BytesIO()
    pq.write_table(tbl, buf)
    data = buf.getvalue()
    good = {f"{TABLE}_20261001.parquet": data, f"{TABLE}_20261002.parquet.gz": gzip.compress(data)}
    bad = {
        f"{TABLE}_20261003.parquet": data[: len(data) // 2],
        f"{TABLE}_20261004.parquet": b"",
        f"{TABLE}_20261005.parquet.gz": gzip.compress(data)[:-200],
    }
    # record ids must differ between the two good files (else the second's rows are duplicates)
    rows2 = [good_row(i) for i in range(1001, 1201)]
    tbl2 = pa.table({c: [r[c] or None for r in rows2] for c in COLUMNS})
    buf2 = io.BytesIO()
    pq.write_table(tbl2, buf2)
    good[f"{TABLE}_20261002.parquet.gz"] = gzip.compress(buf2.getvalue())
    tally = _refused(
        work,
        good | bad,
        {
            f"{TABLE}_20261003.parquet": "not a Parquet file",
            f"{TABLE}_20261004.parquet": "empty file",
            f"{TABLE}_20261005.parquet.gz": "ends early",
        },
    )
    from tagcloud.data.warehouse import Warehouse

    con = Warehouse(work / "wh").connect()
    got = con.execute("SELECT count(*), count_if(msisdn = '13800000006') FROM data_xdr").fetchone()
    if got != (400, 1):
        tally.violations.append(f"Parquet drops: warehouse holds {got}, expected (400, 1)")
    if tally.normalised != 1:
        tally.violations.append(f"Parquet drops: {tally.normalised} rows normalised, expected 1")
    return tally


def _copies(work: Path, rng: random.Random) -> Tally:
    """The same file dropped twice under another name, the second time in a later drop too."""
    from tagcloud.data.ledger import FileStatus
    from tagcloud.data.warehouse import Warehouse

    e = build_drop(work / "drop", Spec(("good",) * 50))
    data = e.path.read_bytes()
    (e.path.parent / f"{TABLE}_20261001 (1).csv").write_bytes(data)
    wh = Warehouse(work / "wh")
    report = _ingest(work / "drop", wh)
    tally = check(report, wh, [e])
    (work / "later" / TABLE).mkdir(parents=True)
    (work / "later" / TABLE / f"{TABLE}_20261001_copy.csv").write_bytes(data)
    later = _ingest(work / "later", wh)
    tally.add(check(later, wh, []))
    statuses = sorted(f.status.value for f in report.files + later.files)
    if statuses != [FileStatus.COPY.value, FileStatus.COPY.value, FileStatus.INGESTED.value]:
        tally.violations.append(f"copies: statuses {statuses}")
    n = wh.connect().execute("SELECT count(*) FROM data_xdr").fetchone()
    if n != (50,):
        tally.violations.append(f"copies: warehouse holds {n} rows, expected 50 (not doubled)")
    return tally


def _resent_day(work: Path, rng: random.Random) -> Tally:
    """A day re-sent with corrections (same name, new content): it replaces, never doubles."""
    from tagcloud.data.warehouse import Warehouse

    wh = Warehouse(work / "wh")
    e1 = build_drop(work / "drop", Spec(("good",) * 40 + ("number_fraction",) * 2))
    tally = check(_ingest(work / "drop", wh), wh, [e1])
    # the re-send: the two broken rows corrected, five rows withdrawn, three added, a value fixed
    e2 = build_drop(work / "drop", Spec(("good",) * 38 + ("phone_plus86",) * 2 + ("good",) * 3))
    report = _ingest(work / "drop", wh)
    tally.add(check(report, wh, [e2]))
    n = wh.connect().execute("SELECT count(*), count(DISTINCT record_id) FROM data_xdr").fetchone()
    if n != (43, 43):
        tally.violations.append(f"re-sent day: warehouse holds {n}, expected (43, 43)")
    q = list((wh.root / "quarantine").rglob("*.parquet"))
    if q:
        tally.violations.append(f"re-sent day: the first version's quarantine was not replaced: {q}")
    with wh.ledger() as led:
        dirty = {d.reason for d in led.dirty_periods(TABLE) if d.run_id == report.run_id}
    if dirty != {"corrected"}:
        tally.violations.append(f"re-sent day: dirty periods {dirty}, expected corrected")
    return tally


FAMILIES: dict[str, Callable[[Path, random.Random], Tally]] = {
    "phone numbers": _specs_family(
        [Spec(_mix(*(k for k in VARIANTS if k.startswith("phone_")))), Spec(_mix("phone_plus86"), "|", "gbk")]
    ),
    "numbers": _specs_family([Spec(_mix(*(k for k in VARIANTS if k.startswith("number_"))), "\t")]),
    "dates (6 formats)": _specs_family([Spec(_mix(*(k for k in VARIANTS if k.startswith("date_"))))]),
    "encodings, BOM, CRLF": _specs_family(
        [
            Spec(
                _mix("chinese_text", "other_encoding", "bad_bytes"), bom=True, crlf=True, whole_gb_lines=True
            ),
            Spec(_mix("chinese_text", "rare_gb18030", "other_encoding", "bad_bytes"), "|", "gbk", crlf=True),
            Spec(
                _mix("chinese_text", "other_encoding", n=1) + ("chinese_text",) * 5, "\t", whole_gb_lines=True
            ),
        ]
    ),
    "delimiters and quoting": _specs_family(
        [
            Spec(_mix("quoted_separators", "missing_field", "extra_field", "blank"), d)
            for d in (",", "|", "\t")
        ]
    ),
    "NUL bytes": _specs_family([Spec(_mix("nul_byte", n=5)), Spec(("nul_byte",) * 4, "|", "gbk", crlf=True)]),
    "compressed drops": _specs_family(
        [Spec(_mix("good", "chinese_text"), compression=c) for c in ("gzip", "bz2", "zip")]
        + [Spec(("good",) * 2000, compression=c, cut=0.6) for c in ("gzip", "bz2", "zip")]
    ),
    "missing / extra columns, header only": _columns,
    "random bytes": _random_bytes,
    "Parquet: text columns, truncated, zero-length": _parquet,
    "same file twice under another name": _copies,
    "day re-sent with corrections": _resent_day,
}


def run_family(name: str, work: Path, rng: random.Random) -> Tally:
    """Run one hand-made family in ``work`` (a fresh folder) and hold it to the law."""
    work.mkdir(parents=True, exist_ok=True)
    try:
        return FAMILIES[name](work, rng)
    except Exception as e:  # an exception escaping ingest() is a crash, and the family's result
        import traceback

        return Tally(inputs=1, crashes=1, violations=[f"{name}: {traceback.format_exc()}{e}"])
