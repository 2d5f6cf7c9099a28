"""Campaign evaluation (效果评估): action vs control success, lift, confidence interval and p-value,
contacts and responses by channel and wave, ARPU / DOU / MOU before and after, by branch and week.

Success of a member: an accepted response to the campaign, or an order (subscribe) of the member's
offer within the response window after the start. The comparison is intention-to-treat: the
action group is every non-held-out target member, contacted or not, so the lift is not flattered
by who happened to be reachable.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagcloud.campaigns.design import CampaignDesign
from tagcloud.campaigns.execute import Target
from tagcloud.campaigns.policy import ContactLedger, epoch

if TYPE_CHECKING:
    import duckdb
    import polars as pl


@dataclass
class Comparison:
    """Success rate of action vs control with lift, difference CI (95%) and two-sided p-value."""

    action_n: int
    action_successes: int
    control_n: int
    control_successes: int

    @property
    def action_rate(self) -> float:
        return self.action_successes / self.action_n if self.action_n else 0.0

    @property
    def control_rate(self) -> float:
        return self.control_successes / self.control_n if self.control_n else 0.0

    @property
    def lift(self) -> float:
        """action rate / control rate (inf when the control had no success)."""
        if self.control_rate == 0:
            return math.inf if self.action_rate > 0 else math.nan
        return self.action_rate / self.control_rate

    @property
    def difference(self) -> float:
        return self.action_rate - self.control_rate

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Wald interval of the difference of rates (Newcombe would be tighter for tiny counts)."""
        from scipy.stats import norm

        if not self.action_n or not self.control_n:
            return (math.nan, math.nan)
        p1, p0 = self.action_rate, self.control_rate
        se = math.sqrt(p1 * (1 - p1) / self.action_n + p0 * (1 - p0) / self.control_n)
        z = float(norm.ppf(0.5 + level / 2))
        return (self.difference - z * se, self.difference + z * se)

    @property
    def p_value(self) -> float:
        """Two-proportion z-test (pooled); Fisher's exact test when an expected count is under 5."""
        from scipy.stats import fisher_exact, norm

        n1, n0, s1, s0 = self.action_n, self.control_n, self.action_successes, self.control_successes
        if not n1 or not n0:
            return math.nan
        pooled = (s1 + s0) / (n1 + n0)
        if min(n1 * pooled, n0 * pooled, n1 * (1 - pooled), n0 * (1 - pooled)) < 5:
            return float(fisher_exact([[s1, n1 - s1], [s0, n0 - s0]])[1])
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        if se == 0:
            return 1.0
        return float(2 * norm.sf(abs(self.difference) / se))

    def minimum_detectable_effect(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """The smallest difference of rates these group sizes can tell from chance (two-sided test at
        ``alpha`` with ``power``), from the pooled rate; inf when a group is empty or nothing succeeded
        (no variance to size the test with)."""
        return minimum_detectable_effect(
            self.action_n, self.control_n, self.action_successes + self.control_successes, alpha, power
        )

    @property
    def conclusive(self) -> bool:
        """Whether the difference is at least the minimum detectable effect: below it, a ratio of the
        two rates (1.93×, inf×) says nothing about the campaign, only about the sample."""
        return abs(self.difference) >= self.minimum_detectable_effect()

    def verdict(self, action: str = "action", control: str = "control") -> str:
        """One line a branch manager can read: the ratio with its counts, or "too few to conclude"
        with the difference the sample would have needed."""
        counts = (
            f"{self.action_rate:.2%} of {self.action_n:,} {action} ({self.action_successes:,}) vs "
            f"{self.control_rate:.2%} of {self.control_n:,} {control} ({self.control_successes:,})"
        )
        mde = self.minimum_detectable_effect()
        if not self.conclusive:
            need = "any difference" if math.isinf(mde) else f"a difference of at least {mde:.2%} points"
            return f"too few to conclude: {counts}; this sample can only detect {need}"
        ratio = "no success in the " + control if self.control_successes == 0 else f"{self.lift:.2f}×"
        return f"{ratio}: {counts}, difference {self.difference:+.2%} (p = {self.p_value:.3g})"

    def as_dict(self) -> dict[str, float | int]:
        lo, hi = self.ci()
        return {
            "action_n": self.action_n,
            "action_successes": self.action_successes,
            "action_rate": self.action_rate,
            "control_n": self.control_n,
            "control_successes": self.control_successes,
            "control_rate": self.control_rate,
            "lift": self.lift,
            "difference": self.difference,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": self.p_value,
            "minimum_detectable_effect": self.minimum_detectable_effect(),
            "conclusive": self.conclusive,
        }


def minimum_detectable_effect(
    n1: int, n0: int, successes: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Power calculation for two proportions: (z₁₋α/₂ + z_power) · √(p(1−p)(1/n₁ + 1/n₀)) at the pooled
    rate p of ``successes`` over both groups; inf when a group is empty or p is 0 or 1."""
    from scipy.stats import norm

    if n1 <= 0 or n0 <= 0:
        return math.inf
    p = successes / (n1 + n0)
    if p <= 0 or p >= 1:
        return math.inf
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))


@dataclass
class CampaignReport:
    campaign_id: str
    overall: Comparison
    by_sub_campaign: pl.DataFrame
    contacts: pl.DataFrame  # wave, channel, status, contacts
    responses: pl.DataFrame  # wave, channel, outcome, responses
    usage: pl.DataFrame  # group, metric, before, after, change
    by_branch: pl.DataFrame  # city, county, action/control rates and lift
    by_week: pl.DataFrame  # week, successes in action and control
    notes: list[str] = field(default_factory=list)
    # one row per target member: msisdn, sub_campaign, offer_id, treated (action group), took
    # (success in the window) — the training data of an uplift model (``tagcloud models uplift``)
    members: Any = None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def evaluate(
    ledger: ContactLedger,
    design: CampaignDesign,
    target: Target,
    con: duckdb.DuckDBPyConnection | None = None,
    orders: str = "orders",
) -> CampaignReport:
    """Evaluate one campaign from its ledger records, its target snapshot and (optionally) a DuckDB
    connection with the warehouse's ``orders`` (or the table named by ``orders``), ``billing_monthly``,
    ``subscribers`` and ``regions``.
    """
    import duckdb
    import polars as pl
    import pyarrow as pa

    con = con or duckdb.connect()
    cid = design.campaign_id
    notes: list[str] = []
    offers = {s.name: s.offer_id for s in design.sub_campaigns}
    members = pa.table(
        {
            "msisdn": pa.array(target.msisdn.astype(str)),
            "sub_campaign": pa.array(target.sub_campaign.astype(str)),
            "grp": pa.array(["control" if c else "action" for c in target.control]),
            "offer_id": pa.array([offers[s] for s in target.sub_campaign.astype(str)]),
        }
    )
    contacts = ledger.db.q(
        "SELECT msisdn, wave, channel, status FROM contacts WHERE campaign_id=? AND status <> 'control'",
        (cid,),
    )
    responses = ledger.db.q(
        "SELECT r.msisdn, r.channel, r.outcome, r.responded_at, c.wave FROM responses r "
        "LEFT JOIN contacts c ON c.contact_id = r.contact_id WHERE r.campaign_id=?",
        (cid,),
    )
    con.register(
        "ev_members",
        members,
    )
    con.register(
        "ev_contacts",
        pa.table(
            {
                "msisdn": pa.array([r[0] for r in contacts], pa.string()),
                "wave": pa.array([r[1] for r in contacts], pa.int64()),
                "channel": pa.array([r[2] for r in contacts], pa.string()),
                "status": pa.array([r[3] for r in contacts], pa.string()),
            }
        ),
    )
    con.register(
        "ev_responses",
        pa.table(
            {
                "msisdn": pa.array([r[0] for r in responses], pa.string()),
                "channel": pa.array([r[1] for r in responses], pa.string()),
                "outcome": pa.array([r[2] for r in responses], pa.string()),
                "ts": pa.array([r[3] for r in responses], pa.int64()),
                "wave": pa.array([r[4] for r in responses], pa.int64()),
            }
        ),
    )
    start, end = epoch(design.start), epoch(design.start + dt.timedelta(days=design.response_window_days))
    have = _tables(con)
    order_success = "SELECT NULL::VARCHAR AS msisdn, NULL::BIGINT AS ts WHERE false"
    if orders in have:
        order_success = (
            f"SELECT o.msisdn, min(epoch(o.order_time))::BIGINT AS ts FROM {orders} o JOIN ev_members m "
            "ON m.msisdn = o.msisdn AND m.offer_id = o.product_id "
            f"WHERE o.action = 'subscribe' AND epoch(o.order_time) >= {start} AND epoch(o.order_time) < {end} "
            "GROUP BY o.msisdn"
        )
    else:
        notes.append("no orders table: success counts accepted responses only (control has none)")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ev_success AS "
        "SELECT m.msisdn, m.grp, m.sub_campaign, least(a.ts, o.ts) AS ts, (a.ts IS NOT NULL OR o.ts IS NOT NULL) AS ok "
        "FROM ev_members m "
        f"LEFT JOIN (SELECT msisdn, min(ts) AS ts FROM ev_responses WHERE outcome = 'accepted' AND ts < {end} GROUP BY 1) a "
        "ON a.msisdn = m.msisdn "
        f"LEFT JOIN ({order_success}) o ON o.msisdn = m.msisdn"
    )

    def compare(where: str = "true") -> Comparison:
        r = con.execute(
            "SELECT count(*) FILTER (grp='action'), count(*) FILTER (grp='action' AND ok), "
            f"count(*) FILTER (grp='control'), count(*) FILTER (grp='control' AND ok) FROM ev_success WHERE {where}"
        ).fetchall()[0]
        return Comparison(int(r[0]), int(r[1]), int(r[2]), int(r[3]))

    overall = compare()
    subs = [
        {"sub_campaign": s.name, "offer_id": s.offer_id, **compare(f"sub_campaign = '{s.name}'").as_dict()}
        for s in design.sub_campaigns
    ]
    by_sub = pl.DataFrame(subs)
    contacts_df = pl.from_arrow(
        con.sql(
            "SELECT wave, channel, status, count(*) AS contacts FROM ev_contacts GROUP BY ALL ORDER BY ALL"
        ).to_arrow_table()
    )
    responses_df = pl.from_arrow(
        con.sql(
            "SELECT wave, channel, outcome, count(*) AS responses FROM ev_responses GROUP BY ALL ORDER BY ALL"
        ).to_arrow_table()
    )
    by_week = pl.from_arrow(
        con.sql(
            f"SELECT floor((ts - {start}) / (7 * 86400))::INT + 1 AS week, "
            "count(*) FILTER (grp='action') AS action_successes, count(*) FILTER (grp='control') AS control_successes "
            "FROM ev_success WHERE ok GROUP BY 1 ORDER BY 1"
        ).to_arrow_table()
    )
    members_out = con.sql(
        "SELECT s.msisdn, s.sub_campaign, m.offer_id, s.grp = 'action' AS treated, s.ok AS took "
        "FROM ev_success s JOIN ev_members m USING (msisdn) ORDER BY s.msisdn"
    ).to_arrow_table()
    usage = _usage(con, design, have, notes)
    by_branch = _branches(con, have, notes)
    return CampaignReport(
        cid,
        overall,
        by_sub,
        contacts_df,  # type: ignore[arg-type]
        responses_df,  # type: ignore[arg-type]
        usage,
        by_branch,
        by_week,  # type: ignore[arg-type]
        notes,
        members_out,
    )


def _usage(
    con: duckdb.DuckDBPyConnection, design: CampaignDesign, have: set[str], notes: list[str]
) -> pl.DataFrame:
    """Mean ARPU / DOU / MOU in the bill month before the start and the one after, per group."""
    import polars as pl

    if "billing_monthly" not in have:
        notes.append("no billing_monthly table: no before/after ARPU, DOU, MOU")
        return pl.DataFrame()
    first = design.start.date().replace(day=1)
    before = (first - dt.timedelta(days=1)).replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    rows = con.execute(
        f"""
        WITH g AS (
            SELECT msisdn, CASE WHEN grp = 'action' AND ok THEN 'action responders'
                                WHEN grp = 'control' AND ok THEN 'control successes' END AS grp2, grp
            FROM ev_success
        ), labelled AS (
            SELECT msisdn, grp AS label FROM g UNION ALL SELECT msisdn, grp2 FROM g WHERE grp2 IS NOT NULL
        )
        SELECT l.label,
               avg(b.arpu) FILTER (b.bill_month = DATE '{before}')::DOUBLE, avg(b.arpu) FILTER (b.bill_month = DATE '{after}')::DOUBLE,
               avg(b.dou_mb) FILTER (b.bill_month = DATE '{before}'), avg(b.dou_mb) FILTER (b.bill_month = DATE '{after}'),
               avg(b.mou_min) FILTER (b.bill_month = DATE '{before}'), avg(b.mou_min) FILTER (b.bill_month = DATE '{after}')
        FROM labelled l JOIN billing_monthly b ON b.msisdn = l.msisdn
        WHERE b.bill_month IN (DATE '{before}', DATE '{after}')
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    out: list[dict[str, Any]] = []
    for label, *vals in rows:
        for i, metric in enumerate(("arpu", "dou_mb", "mou_min")):
            b, a = vals[2 * i], vals[2 * i + 1]
            out.append(
                {
                    "group": label,
                    "metric": metric,
                    "before": b,
                    "after": a,
                    "change": (a - b) if a is not None and b is not None else None,
                }
            )
    return pl.DataFrame(
        out,
        schema={
            "group": pl.String,
            "metric": pl.String,
            "before": pl.Float64,
            "after": pl.Float64,
            "change": pl.Float64,
        },
    )


def _branches(con: duckdb.DuckDBPyConnection, have: set[str], notes: list[str]) -> pl.DataFrame:
    """Action vs control by city and county (分公司), from the subscriber's home township."""
    import polars as pl

    if not {"subscribers", "regions"} <= have:
        notes.append("no subscribers/regions tables: no results by branch")
        return pl.DataFrame()
    df = pl.from_arrow(
        con.sql(
            """
            WITH home AS (
                SELECT s.msisdn, county.region_id AS county, city.region_id AS city
                FROM subscribers s
                JOIN regions town ON town.region_id = s.home_region_id
                JOIN regions county ON county.region_id = CASE WHEN town.level = 'county' THEN town.region_id ELSE town.parent_id END
                JOIN regions city ON city.region_id = county.parent_id
            )
            SELECT h.city, h.county,
                   count(*) FILTER (e.grp = 'action') AS action_n, count(*) FILTER (e.grp = 'action' AND e.ok) AS action_successes,
                   count(*) FILTER (e.grp = 'control') AS control_n, count(*) FILTER (e.grp = 'control' AND e.ok) AS control_successes
            FROM ev_success e JOIN home h ON h.msisdn = e.msisdn
            GROUP BY ALL ORDER BY ALL
            """
        ).to_arrow_table()
    )
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(
        (pl.col("action_successes") / pl.col("action_n")).alias("action_rate"),
        (pl.col("control_successes") / pl.col("control_n")).alias("control_rate"),
    ).with_columns((pl.col("action_rate") / pl.col("control_rate")).alias("lift"))


_GROUP_COUNTS = ("action_n", "action_successes", "control_n", "control_successes")


def report_sections(r: CampaignReport) -> list[tuple[str, pl.DataFrame]]:
    """The report's tables, each titled, as a branch manager reads them: counts next to every rate,
    and the lift of a row replaced by "too few to conclude" where its groups cannot show one."""
    import polars as pl

    o = r.overall
    lo, hi = o.ci()
    summary = pl.DataFrame(
        {
            "group": ["action", "control"],
            "members": [o.action_n, o.control_n],
            "successes": [o.action_successes, o.control_successes],
            "rate": [o.action_rate, o.control_rate],
        }
    )
    verdict = pl.DataFrame(
        {
            "what": ["lift", "difference", "95% CI", "p-value", "minimum detectable effect"],
            "value": [
                _lift_text(o),
                f"{o.difference:+.2%}",
                f"{lo:+.2%} … {hi:+.2%}" if math.isfinite(lo) else "—",
                f"{o.p_value:.3g}",
                _points(o.minimum_detectable_effect()),
            ],
        }
    )
    subs = r.by_sub_campaign
    if subs.height:
        subs = _with_verdicts(subs).select(
            "sub_campaign", "offer_id", *_GROUP_COUNTS, "action_rate", "control_rate", "lift", "p_value"
        )
    branches = _with_verdicts(r.by_branch) if r.by_branch.height else r.by_branch
    sections = [
        ("action vs control", summary),
        ("result", verdict),
        ("by sub-campaign", subs),
        ("contacts by wave and channel", r.contacts),
        ("responses", r.responses),
        ("ARPU / DOU / MOU before and after", r.usage),
        ("by branch", branches),
        ("by week", r.by_week),
    ]
    return [(title, df) for title, df in sections if df.height]


def _points(x: float) -> str:
    return "any difference (no successes yet)" if math.isinf(x) else f"{x:.2%}"


def _lift_text(c: Comparison) -> str:
    if not c.conclusive:
        return "too few to conclude"
    return "∞ (no success in the control)" if c.control_successes == 0 else f"{c.lift:.2f}×"


def _with_verdicts(df: pl.DataFrame) -> pl.DataFrame:
    """A table with the four group counts: its lift column as text that says when it means nothing."""
    import polars as pl

    lifts = [_lift_text(Comparison(*(int(v) for v in row))) for row in df.select(_GROUP_COUNTS).iter_rows()]
    return df.with_columns(pl.Series("lift", lifts, dtype=pl.String))


def _cell(column: str, v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        if column.endswith("rate"):
            return f"{v:.2%}"
        if column == "p_value":
            return f"{v:.3g}"
        return f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _header(r: CampaignReport) -> list[str]:
    return [f"campaign {r.campaign_id}", r.overall.verdict()]


def format_report(r: CampaignReport) -> str:
    """The report as text (``tagcloud campaign report``): Rich tables, as ingest prints them."""
    import io

    import polars as pl
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=160, no_color=True, highlight=False)
    for line in _header(r):
        console.print(line, markup=False)
    for title, df in report_sections(r):
        t = Table(title=title, title_justify="left", show_edge=False)
        for c in df.columns:
            t.add_column(c, justify="left" if df.schema[c] == pl.String else "right")
        for row in df.iter_rows():
            t.add_row(*(_cell(c, v) for c, v in zip(df.columns, row, strict=True)))
        console.print(t)
    for n in r.notes:
        console.print(f"note: {n}", markup=False)
    return buf.getvalue().rstrip("\n")


def report_markdown(r: CampaignReport) -> str:
    """The report as Markdown, for the branch managers who receive it by mail or in a wiki."""
    out = [f"# {_header(r)[0]}", "", _header(r)[1], ""]
    for title, df in report_sections(r):
        out += [f"## {title}", "", "| " + " | ".join(df.columns) + " |"]
        out.append("|" + "|".join("---" for _ in df.columns) + "|")
        for row in df.iter_rows():
            cells = (_cell(c, v).replace("|", "\\|") for c, v in zip(df.columns, row, strict=True))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += [f"- note: {n}" for n in r.notes]
    return "\n".join(out).rstrip() + "\n"


def write_report_xlsx(r: CampaignReport, path: Path) -> Path:
    """The report as a spreadsheet: a summary sheet and one sheet per table, numbers kept as numbers."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path))
    pct = book.add_format({"num_format": "0.00%"})
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    summary = book.add_worksheet("summary")
    for i, line in enumerate(_header(r) + [f"note: {n}" for n in r.notes]):
        summary.write(i, 0, line, bold if i == 0 else None)
    for title, df in report_sections(r):
        name = title.replace("/", "-")[:31]
        while name in used:
            name = name[:29] + f"{len(used):02d}"
        used.add(name)
        sheet = book.add_worksheet(name)
        for j, c in enumerate(df.columns):
            sheet.write(0, j, c, bold)
            for i, v in enumerate(df[c].to_list(), start=1):
                if isinstance(v, float) and not math.isfinite(v):
                    sheet.write_blank(i, j, None)
                elif isinstance(v, float) and c.endswith("rate"):
                    sheet.write_number(i, j, v, pct)
                elif v is None:
                    sheet.write_blank(i, j, None)
                else:
                    sheet.write(i, j, v)
    book.close()
    return path
