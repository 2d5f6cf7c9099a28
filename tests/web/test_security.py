"""The security posture an operator's security team checks: login lockout per account and per
address with an administrator's unlock, every sign-in event audited, password policy, history and
expiry, session idle timeout, watermarked and capped exports, data embedded with json_script."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from django.test import Client

from .conftest import post

pytestmark = pytest.mark.django_db


def _login(username: str, password: str, ip: str = "10.1.1.1") -> tuple[Client, Any]:
    c = Client(REMOTE_ADDR=ip)
    r = c.post("/login/", {"username": username, "password": password})
    return c, r


def _signed_in(c: Client) -> bool:
    return c.get("/").status_code == 200


def _actions(username: str) -> list[str]:
    from tagcloud.web.accounts.models import AuditEvent

    return list(
        AuditEvent.objects.filter(username=username).order_by("at", "id").values_list("action", flat=True)
    )


def test_thirty_wrong_passwords_then_the_right_one_stays_locked_out(demo_accounts: dict[str, Any]) -> None:
    admin = demo_accounts["province_admin"]
    for i in range(30):
        _, r = _login(admin.username, f"wrong-{i}")
        assert r.status_code in (200, 429)
    c, r = _login(admin.username, admin.password)
    assert r.status_code == 429 and "登录已锁定" in r.content.decode()
    assert not _signed_in(c)
    # Locked for the account, from any address: the lockout is not only per address.
    c, r = _login(admin.username, admin.password, ip="10.9.9.9")
    assert r.status_code == 429 and not _signed_in(c)
    acts = _actions(admin.username)
    assert acts.count("loginfail") == 32 and "lockout" in acts and "login" not in acts


def test_failures_below_the_limit_do_not_lock(demo_accounts: dict[str, Any], settings: Any) -> None:
    a = demo_accounts["county_marketer"]
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(a.username, f"wrong-{i}")
    c, r = _login(a.username, a.password)
    assert r.status_code == 302 and _signed_in(c)
    # The right password cleared the count: another limit-1 failures still do not lock.
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(a.username, f"wrong-{i}")
    c, _ = _login(a.username, a.password)
    assert _signed_in(c)


def test_one_address_guessing_many_accounts_is_locked(demo_accounts: dict[str, Any], settings: Any) -> None:
    names = [a.username for a in demo_accounts.values()]
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(names[i % len(names)], "guess", ip="10.6.6.6")
    target = demo_accounts["analyst"]
    c, r = _login(target.username, target.password, ip="10.6.6.6")
    assert r.status_code == 429 and not _signed_in(c)
    c, r = _login(target.username, target.password, ip="10.7.7.7")  # the account itself is fine
    assert r.status_code == 302 and _signed_in(c)


def test_an_administrator_unlocks_in_the_admin(demo_accounts: dict[str, Any], settings: Any) -> None:
    from axes.models import AccessAttempt

    victim = demo_accounts["city_marketer"]
    for i in range(settings.AXES_FAILURE_LIMIT + 3):
        _login(victim.username, f"wrong-{i}")
    assert _login(victim.username, victim.password)[1].status_code == 429

    admin_user = demo_accounts["province_admin"]
    admin, r = _login(admin_user.username, admin_user.password, ip="10.2.2.2")
    assert r.status_code == 302
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and victim.username in page.content.decode()
    ids = list(AccessAttempt.objects.filter(username=victim.username).values_list("pk", flat=True))
    r = post(
        admin,
        "/admin/axes/accessattempt/",
        {"action": "unlock_selected", "_selected_action": [str(i) for i in ids]},
    )
    assert r.status_code == 302
    assert not AccessAttempt.objects.filter(username=victim.username).exists()
    c, r = _login(victim.username, victim.password)
    assert r.status_code == 302 and _signed_in(c)
    from tagcloud.web.accounts.models import AuditEvent

    e = AuditEvent.objects.get(action="unlock")
    assert e.target == victim.username and e.username == victim.username
    assert e.detail["by"] == admin_user.username


def test_a_marketer_cannot_unlock(clients: dict[str, Any]) -> None:
    assert clients["county_marketer"].get("/admin/axes/accessattempt/").status_code == 302


def test_login_and_logout_are_audited(demo_accounts: dict[str, Any]) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    a = demo_accounts["township_manager"]
    c, r = _login(a.username, a.password, ip="10.3.3.3")
    assert r.status_code == 302
    post(c, "/logout/")
    assert not _signed_in(c)
    assert _actions(a.username) == ["login", "logout"]
    e = AuditEvent.objects.get(action="login", username=a.username)
    assert e.role == "township_manager" and e.ip == "10.3.3.3" and e.user is not None


def test_a_failure_for_an_unknown_account_is_audited_with_the_name_typed(db: Any) -> None:
    _login("nobody_here", "x", ip="10.4.4.4")
    assert _actions("nobody_here") == ["loginfail"]


def test_behind_the_proxy_the_forwarded_address_is_counted(
    demo_accounts: dict[str, Any], settings: Any
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    a = demo_accounts["analyst"]
    c = Client(REMOTE_ADDR="127.0.0.1")
    c.post(
        "/login/",
        {"username": a.username, "password": "wrong"},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        HTTP_X_FORWARDED_PROTO="https",
        secure=True,
    )
    from tagcloud.web.accounts.models import AuditEvent

    assert AuditEvent.objects.get(action="loginfail").ip == "203.0.113.7"


# ---- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short1A!", False),  # too short
        ("alllowercaseletters", False),  # one class
        ("lowercase-and-digits-1", True),  # three classes
        ("Password12345", False),  # three classes, but on the common-passwords list
        ("Yellow-river-Delta", True),
        ("123456789012345", False),  # numeric
    ],
)
def test_password_policy(password: str, ok: bool, db: Any) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if ok:
        validate_password(password)
    else:
        with pytest.raises(ValidationError):
            validate_password(password)


def test_an_expired_password_must_be_changed_and_not_reused(
    clients: dict[str, Any], demo_accounts: dict[str, Any]
) -> None:
    from django.contrib.auth.models import User

    from tagcloud.web.security.models import PasswordChange

    a = demo_accounts["county_marketer"]
    user = User.objects.get(username=a.username)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=91)
    PasswordChange.objects.filter(user=user).update(at=old)
    User.objects.filter(pk=user.pk).update(date_joined=old)
    c = clients["county_marketer"]
    r = c.get("/audience/")
    assert r.status_code == 302 and r["Location"] == "/account/password/?expired=1"
    assert c.get("/api/me").status_code == 403
    assert "密码已过期" in c.get(r["Location"]).content.decode()
    # The same password again is refused (history), a weak one too.
    r = post(
        c,
        "/account/password/",
        {"old_password": a.password, "new_password1": a.password, "new_password2": a.password},
    )
    assert r.status_code == 200 and c.get("/audience/").status_code == 302
    new = "Fresh-pass-2026"
    r = post(
        c, "/account/password/", {"old_password": a.password, "new_password1": new, "new_password2": new}
    )
    assert r.status_code == 302
    assert c.get("/audience/").status_code == 200  # still signed in, no longer sent to the change page
    assert _actions(a.username)[-1] == "password"
    assert PasswordChange.objects.filter(user=user).count() == 2


def test_a_fresh_password_is_not_expired(clients: dict[str, Any]) -> None:
    assert clients["analyst"].get("/").status_code == 200


def test_an_idle_session_is_signed_out(clients: dict[str, Any], settings: Any) -> None:
    from tagcloud.web.security.middleware import LAST_SEEN

    c = clients["analyst"]
    assert c.get("/").status_code == 200
    s = c.session
    s[LAST_SEEN] = int(dt.datetime.now().timestamp()) - settings.SESSION_IDLE_SECONDS - 5
    s.save()
    r = c.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")
    assert c.get("/").status_code == 302
    from tagcloud.web.accounts.models import AuditEvent

    assert AuditEvent.objects.get(action="logout").detail["reason"] == "idle"


# ---- exports ------------------------------------------------------------------------------


def test_export_rows_carry_a_watermark_naming_the_exporter(clients: dict[str, Any]) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    r = post(clients["county_marketer"], "/audience/export/", {"cond": ["arpu >= 80"]})
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    e = AuditEvent.objects.get(action="export")
    assert rows and {x["watermark"] for x in rows} == {x["watermark"] for x in rows[:1]}
    mark = rows[0]["watermark"]
    assert mark.startswith("demo_county_marketer ") and mark.endswith(f"audit#{e.pk}")
    assert f"audit{e.pk}" in r["Content-Disposition"]
    assert all("****" in x["msisdn"] for x in rows)  # masked by default


def test_export_over_the_roles_cap_is_refused_and_audited(clients: dict[str, Any], settings: Any) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    settings.EXPORT_CAPS = {**settings.EXPORT_CAPS, "county": 10}
    r = post(clients["county_marketer"], "/audience/export/", {"cond": ["arpu >= 80"]})
    assert r.status_code == 422 and "export limit of 10" in r.content.decode()
    e = AuditEvent.objects.get(action="denied")
    assert e.rows > 10 and not AuditEvent.objects.filter(action="export").exists()
    # Whole numbers get a tenth of the cap: the province administrator's masked export passes where
    # the unmasked one of the same audience is refused.
    settings.EXPORT_CAPS = {**settings.EXPORT_CAPS, "province": e.rows * 5}
    assert (
        post(
            clients["province_admin"], "/audience/export/", {"cond": ["arpu >= 80", "county_id = 'C01K01'"]}
        ).status_code
        == 200
    )
    r = post(
        clients["province_admin"],
        "/audience/export/",
        {"cond": ["arpu >= 80", "county_id = 'C01K01'"], "unmask": "1"},
    )
    assert r.status_code == 422 and "unmasked export limit" in r.content.decode()


# ---- data embedded in pages ----------------------------------------------------------------

EVIL = "</script><script>alert(1)</script>"


def test_a_catalogue_value_with_a_script_end_tag_is_inert(clients: dict[str, Any], monkeypatch: Any) -> None:
    from tagcloud.web.engine import base_engine

    columns = base_engine().index.columns
    brand = dict(columns["brand"])
    brand["values"] = [*list(brand.get("values") or []), EVIL]
    brand["label_zh"] = EVIL
    monkeypatch.setitem(columns, "brand", brand)
    html = clients["county_marketer"].get("/audience/").content.decode()
    assert "<script>alert(1)" not in html
    m = re.search(r'<script id="catalogue-json" type="application/json">(.*?)</script>', html, re.S)
    assert m, "catalogue embedded with json_script"
    assert EVIL in json.loads(m.group(1))["brand"]["values"]  # the value itself arrives intact


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_script_end_tag_stays_data_in_the_browser(
    page: Any, live_server: Any, demo_accounts: dict[str, Any], monkeypatch: Any
) -> None:
    from tagcloud.web.engine import base_engine

    from .conftest import login

    columns = base_engine().index.columns
    brand = dict(columns["brand"])
    brand["values"] = [*list(brand.get("values") or []), EVIL]
    monkeypatch.setitem(columns, "brand", brand)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    a = demo_accounts["county_marketer"]
    login(page, live_server.url, a.username, a.password)
    page.goto(f"{live_server.url}/audience/")
    page.select_option("#pick-column", "brand")
    page.evaluate("window.tcPick && window.tcPick()")
    offered = page.eval_on_selector_all("#pick-values option", "os => os.map(o => o.value)")
    assert EVIL in offered  # the value reached the picker as text
    assert (
        page.evaluate("JSON.parse(document.getElementById('catalogue-json').textContent).brand.values").count(
            EVIL
        )
        == 1
    )
    injected = "[...document.scripts].filter(s => s.type !== 'application/json' && s.text.includes('alert(1)')).length"
    assert dialogs == [] and page.evaluate(injected) == 0
