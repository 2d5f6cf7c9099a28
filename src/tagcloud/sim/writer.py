"""Writes simulated tables in the output layout the ingestion engineer relies on.

``DIR/<table>/<table>.<ext>`` (reference and snapshot tables), ``<table>_YYYYMM.<ext>`` (month
partitions), ``<table>_YYYYMMDD.<ext>`` (day partitions). Parquet, or CSV with a header row, a chosen
delimiter and encoding (GBK re-encodes the UTF-8 text pyarrow writes). Writes can run on a
background thread so generation of the next day overlaps the I/O of the previous one.
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("parquet", "csv")
ENCODINGS = ("utf-8", "gbk")
DELIMITERS = {",": ",", "|": "|", "tab": "\t", "\t": "\t"}


class TableWriter:
    """Writes one Arrow table per file and keeps the row counts for the manifest."""

    def __init__(
        self, out: Path, fmt: str = "parquet", delimiter: str = ",", encoding: str = "utf-8", threads: int = 1
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"--format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")
        if delimiter not in DELIMITERS:
            raise ValueError(f"--delimiter {delimiter!r} is not supported; use ',', '|' or tab")
        if encoding.lower() not in ENCODINGS:
            raise ValueError(f"--encoding {encoding!r} is not supported; use utf-8 or gbk")
        self.out, self.fmt, self.delimiter, self.encoding = out, fmt, DELIMITERS[delimiter], encoding.lower()
        self.rows: dict[str, int] = {}
        self.files: dict[str, dict[str, int]] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads) if threads > 0 else None
        self._pending: list[Future[None]] = []

    @property
    def ext(self) -> str:
        return self.fmt

    def write(
        self, table_name: str, data: pa.Table, suffix: str | None = None, folder: str | None = None
    ) -> Path:
        """Write ``data`` as ``<folder or table>/<table>[_suffix].<ext>``; returns the path."""
        folder = folder or table_name
        name = f"{table_name}_{suffix}" if suffix else table_name
        path = self.out / folder / f"{name}.{self.ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        key = f"{folder}/{path.name}"
        self.rows[folder] = self.rows.get(folder, 0) + data.num_rows
        self.files.setdefault(folder, {})[key] = data.num_rows
        if self._pool is None:
            self._write(data, path)
        else:
            # one write in flight: memory stays bounded (a day of xDR is ~1.5 GB of Arrow at 1M)
            self._pending = [f for f in self._pending if not f.done()]
            while self._pending:
                self._pending.pop(0).result()
            self._pending.append(self._pool.submit(self._write, data, path))
        return path

    def _write(self, data: pa.Table, path: Path) -> None:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(data, path, compression="snappy")
            return
        import pyarrow.csv as pacsv

        opts = pacsv.WriteOptions(include_header=True, delimiter=self.delimiter)
        if self.encoding == "utf-8":
            pacsv.write_csv(data, path, write_options=opts)
        else:
            buf = io.BytesIO()
            pacsv.write_csv(data, buf, write_options=opts)
            path.write_bytes(buf.getvalue().decode("utf-8").encode(self.encoding))

    def close(self) -> None:
        """Wait for background writes; re-raise the first error."""
        for f in self._pending:
            f.result()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
