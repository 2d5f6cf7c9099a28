"""Products held (category ``product``): the last order of each product over the whole order
history, checked against a reference computed straight from the warehouse's orders."""

from __future__ import annotations

KINDS = ("data_pack", "5g_package", "broadband", "membership", "vas", "family")


def test_holds_flags_match_the_order_history(built) -> None:
    from tagcloud.data.warehouse import Warehouse

    wh, result = built
    con = Warehouse(wh).connect()
    con.execute(f"CREATE VIEW wide AS SELECT * FROM read_parquet('{result.path / 'wide.parquet'}')")
    end = result.window.end
    ref = ", ".join(f"bool_or(kind = '{k}') AS \"k_{k}\"" for k in KINDS)
    con.execute(
        f"""CREATE TEMP TABLE held AS
        SELECT msisdn, count(*) AS n, {ref}, min(last_at) < DATE '{result.window.start}' AS from_before
        FROM (SELECT msisdn, product_id, arg_max(action, (order_time, order_id)) AS action, max(order_time) AS last_at
              FROM orders WHERE order_time < DATE '{end}' GROUP BY 1, 2) AS o
        JOIN products USING (product_id)
        WHERE action <> 'unsubscribe' AND kind <> 'plan' GROUP BY 1"""
    )
    # Holdings decided by orders older than the window: the windowed `orders` relation cannot see them.
    assert con.execute("SELECT count(*) FROM held WHERE from_before").fetchone()[0] > 0
    diff = " OR ".join(f'w.holds_{k} IS DISTINCT FROM coalesce(h."k_{k}", false)' for k in KINDS)
    bad = con.execute(
        f"SELECT count(*) FROM wide AS w LEFT JOIN held AS h USING (msisdn) "
        f"WHERE {diff} OR w.products_held <> coalesce(h.n, 0)"
    ).fetchone()[0]
    assert bad == 0
    total, holders = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE products_held > 0) FROM wide"
    ).fetchone()
    assert 0 < holders < total


def test_profile_gives_product_penetration(built, tmp_path) -> None:
    """The audience engine's profile finds the catalogue's product flags (category ``product``)."""
    import shutil

    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine

    wh, _ = built
    copy = tmp_path / "wh"
    shutil.copytree(wh / "wide", copy / "wide", symlinks=True)
    build_index(copy, quiet=True)
    eng = AudienceEngine.open(copy)
    df = eng.profile("arpu_last >= 0")
    products = df.filter(df["category"] == "product")
    flags = set(products.filter(products["kind"] == "flag")["column"].to_list())
    assert {f"holds_{k}" for k in KINDS} | {"(no product)"} <= flags
    shares = dict(zip(products["column"].to_list(), products["share"].to_list(), strict=True))
    assert 0 < shares["(no product)"] < 1
