"""Cell URLs an operator can get wrong, and ``init`` on a server where the
cell's database does not exist yet.

Every bad URL stops ``init``, ``check`` and ``serve`` with exit 2 and one
line that names the cell and the cells file, never a traceback and never
any part of the password (which here holds '@', ':' and '/', the
characters that move a URL's boundaries).
"""

from __future__ import annotations

import pytest

from cellsched_testlib import run_cli, unique_name, write_cells

pytestmark = pytest.mark.needs_services

#: '@', ':' and '/' in the middle, so a parser that splits at the first
#: '@' puts the rest into the host, port or database.
SECRET = "Sx7@Qz:Wk/9r"
#: The same characters in another order: this URL parses, with the tail of
#: the password as the host.
SECRET2 = "Qz/Wk:9r@Sx7"


def _fragments(secret: str, width: int = 4) -> set[str]:
    """Every 4-character piece of the secret: none may be shown."""
    return {secret[i:i + width] for i in range(len(secret) - width + 1)}


def _refused(command: str, cells_file: str):
    args = [command, "--cells-file", cells_file]
    if command == "serve":
        args += ["--transport-url", "fake://", "--workers", "1"]
    proc = run_cli(*args, check=False, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "serving topic" not in out
    return out


def _bad_urls(server_dbs) -> dict[str, tuple[str, str]]:
    """case -> (cell URL, what the error must say); the databases are real,
    so a URL that got past the check would really be used."""
    mdb = server_dbs("mariadb").create(1)["cell1"]
    pg = server_dbs("postgresql").create(1)["cell1"]
    m_db = mdb.rpartition("/")[2]
    p_db = pg.rpartition("/")[2]
    return {
        # make_url: password 'Sx7', host 'Qz', port 'Wk' -> int() fails,
        # and its message quoted the rest of the password.
        "mariadb-password-at-colon-slash": (
            f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/{m_db}",
            "percent-encoded (%40, %3A, %2F)"),
        # The same password on PostgreSQL.
        "postgresql-password-at-colon-slash": (
            f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:5432/{p_db}",
            "percent-encoded (%40, %3A, %2F)"),
        # Parses without error, but with '@' inside the host.
        "password-tail-in-host": (
            f"mysql+pymysql://root:{SECRET2}@127.0.0.1/{m_db}",
            "has an '@' outside the user name and password"),
        "non-numeric-port": (
            f"mysql+pymysql://root:{SECRET.replace('@', '%40')}"
            f"@127.0.0.1:33o6/{m_db}",
            "is not a number"),
        "port-out-of-range": (
            f"postgresql+psycopg://postgres@127.0.0.1:99999/{p_db}",
            "port 99999"),
        # PyMySQL failed with an AttributeError traceback in init.
        "unknown-charset": (
            f"{mdb}?charset=nonexistent",
            "unknown charset 'nonexistent'"),
        "unknown-mariadb-parameter": (
            f"{mdb}?colour=blue", "unexpected keyword argument 'colour'"),
        "unknown-postgresql-parameter": (
            f"{pg}?colour=blue", 'invalid connection option "colour"'),
    }


@pytest.mark.parametrize("command", ["init", "check", "serve"])
def test_bad_cell_urls_name_cell_and_file_and_hide_the_password(
        server_dbs, tmp_path, command):
    cases = _bad_urls(server_dbs)
    good = server_dbs("mariadb").create(1)["cell1"]
    secret_bits = set().union(*(_fragments(s) for s in (
        SECRET, SECRET2, SECRET.replace("@", "%40"))))
    failures = []
    for case, (url, needle) in cases.items():
        (tmp_path / case).mkdir()
        path = write_cells(tmp_path / case, {"good": good, "bad": url})
        out = _refused(command, path)
        shown = sorted(b for b in secret_bits if b in out)
        if (f"cells file {path!r}: cell 'bad'" not in out
                or needle not in out or shown):
            failures.append(f"{case}: needle {needle!r}, secret pieces "
                            f"{shown}:\n{out[-1500:]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_init_reports_a_missing_database_and_can_create_it(
        server_dbs, tmp_path, backend):
    """Without --create-database a missing database is exit 3 with the
    command that makes it; with it, init creates the database and the
    schema, and a second run changes nothing."""
    dbs = server_dbs(backend)
    name = unique_name("cdb")
    dbs.created.append(name)          # dropped with the test's databases
    path = write_cells(tmp_path, {"c1": dbs.url(name)})

    proc = run_cli("init", "--cells-file", path, check=False)
    assert proc.returncode == 3, proc.stderr
    assert f"cell 'c1': database {name!r} does not exist" in proc.stderr
    assert "cellsched init --create-database" in proc.stderr
    assert "Traceback" not in proc.stderr

    first = run_cli("init", "--cells-file", path, "--create-database")
    assert "c1: database created" in first.stdout
    assert "c1: schema ready" in first.stdout
    again = run_cli("init", "--cells-file", path, "--create-database")
    assert "database created" not in again.stdout
    assert "c1: schema ready" in again.stdout
    run_cli("seed", "--cells-file", path, "--hosts", 2)
    assert "2 nodes" in run_cli("check", "--cells-file", path).stdout
