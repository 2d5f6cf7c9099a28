"""Why a row was refused at ingestion, and where refused rows are kept.

Every row read is either accepted into the warehouse or quarantined with exactly one reason: the
first failing check in the order of :data:`REASON_ORDER` wins. Quarantined rows keep their raw
values (text exactly as read; Parquet values as text), the source file, the line or row number and
the column that failed, in ``WAREHOUSE/quarantine/<table>/<source-file-stem>.parquet``.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Reason codes of quarantined rows, in the order the checks run (first failing check wins)."""

    ENCODING_ERROR = "encoding_error"  # the line's bytes do not decode in the file's encoding
    TRUNCATED_ROW = "truncated_row"  # fewer (cut-off line) or more fields than the header names
    BAD_TYPE = "bad_type"  # a value does not parse as the column's type (number, date, boolean …)
    MISSING_VALUE = "missing_value"  # empty value in a NOT NULL column
    BAD_NUMBER_FORMAT = "bad_number_format"  # text does not match the column's pattern (numbers, IMEI …)
    BAD_CODE = "bad_code"  # value not in the column's code table
    OUT_OF_RANGE = "out_of_range"  # number below the column's min or above its max
    NEGATIVE_DURATION = "negative_duration"  # a duration (unit s) below zero: a broken switch clock
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"  # before 2000, in the future, month not on day 1
    UNKNOWN_CELL = "unknown_cell"  # cell_id not in the warehouse's cells table
    UNKNOWN_REFERENCE = "unknown_reference"  # any other foreign key not found in its reference table
    DUPLICATE = "duplicate"  # key seen earlier in the file, or ingested from another file of the partition


REASON_ORDER: tuple[Reason, ...] = tuple(Reason)

# Reasons found while reading, before a row has columns to check.
READ_REASONS: frozenset[Reason] = frozenset({Reason.ENCODING_ERROR, Reason.TRUNCATED_ROW})

# Columns every quarantine file has before the table's own columns (all VARCHAR, raw values).
QUARANTINE_META_COLUMNS: tuple[str, ...] = (
    "source_file",  # path of the source file as given to ingest
    "row_number",  # 1-based line number in a text file (header = line 1) or row number in a Parquet file
    "reason",  # a Reason value
    "column_name",  # the column whose check failed (the key columns for duplicates; empty for read reasons)
    "raw_line",  # the line as read, for text files (encoding errors: undecodable bytes as \\x escapes)
)
