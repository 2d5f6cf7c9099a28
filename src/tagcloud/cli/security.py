"""Commands of the security posture: the install's secret key, and unlocking locked-out logins."""

from __future__ import annotations

import typer

security_app = typer.Typer(help="Secret key and login lockouts (docs/security.md).", no_args_is_help=True)


@security_app.command("secret-key")
def secret_key() -> None:
    """Create this install's secret key file (mode 0600; TAGCLOUD_SECRET_KEY_FILE or
    <var dir>/secret_key) if it is missing, and print where it is. Never overwrites a key in use."""
    import os
    from pathlib import Path

    from tagcloud.web.security.secret import key_file, read_key_file, write_key_file

    path = key_file(Path(os.environ.get("TAGCLOUD_VAR_DIR", "var/web")).resolve())
    existed = path.exists()
    read_key_file(path) if existed else write_key_file(path)
    typer.echo(f"secret key {'kept' if existed else 'written'}: {path} (mode 0600)")


@security_app.command("lockouts")
def lockouts() -> None:
    """List accounts and addresses with failed logins on record (locked ones first)."""
    from tagcloud.web import setup_django

    setup_django()
    from rich.console import Console
    from rich.table import Table

    from tagcloud.web.security.lockout import lockouts as all_lockouts

    t = Table("account", "address", "failures", "locked", title="Failed logins")
    for x in all_lockouts():
        t.add_row(x.username, x.ip_address, str(x.failures), "yes" if x.locked else "")
    Console().print(t)


@security_app.command("unlock")
def unlock(
    username: str = typer.Option("", help="account to unlock"),
    ip: str = typer.Option("", help="address to unlock"),
) -> None:
    """Clear the failed logins of an account and/or an address (written to the audit log)."""
    import getpass

    from tagcloud.web import setup_django

    setup_django()
    from tagcloud.web.security.lockout import unlock as do_unlock

    try:
        n = do_unlock(None, by=f"cli:{getpass.getuser()}", username=username or None, ip_address=ip or None)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"unlocked {username or ip}: {n} failure records cleared")


def register(app: typer.Typer) -> None:
    app.add_typer(security_app, name="security")
