"""MariaDB and MySQL: PyMySQL, READ COMMITTED, and a refusal of servers too old to use."""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from taskmanager.errors import ValidationFailed
from taskmanager.storage.engine import EngineOptions, require_driver, server_engine

MIN_MARIADB = (10, 6)
MIN_MYSQL = (8, 0, 17)  # utf8mb4_0900_bin, the exact collation of the schema


def create(url: str, options: EngineOptions) -> Engine:
    """An engine on the PyMySQL driver, its pool sized by the options."""
    require_driver("pymysql", "mysql")
    parsed = make_url(url)
    dialect = "mariadb" if parsed.get_backend_name() == "mariadb" else "mysql"
    parsed = parsed.set(drivername=f"{dialect}+pymysql")
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return server_engine(parsed, options, {"read_timeout": 60, "write_timeout": 60})


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of a server's VERSION() string."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(part) for part in match.groups()) if match else (0, 0, 0)


def refusal(version: str) -> str | None:
    """Why a server of this version cannot be used, or None when it can."""
    is_mariadb = "mariadb" in version.lower()
    minimum = MIN_MARIADB if is_mariadb else MIN_MYSQL
    if version_tuple(version)[: len(minimum)] >= minimum:
        return None
    name = "MariaDB" if is_mariadb else "MySQL"
    wanted = ".".join(str(part) for part in minimum)
    return (
        f"{name} {version} is too old: TaskManager needs {name} {wanted} or newer "
        "(for SELECT ... FOR UPDATE SKIP LOCKED and an exact, NO PAD binary collation)"
    )


def durability_warnings(flush_log_at_trx_commit: int) -> list[str]:
    """What may lose acknowledged tasks in a crash of the database host."""
    if flush_log_at_trx_commit == 1:
        return []
    return [
        f"innodb_flush_log_at_trx_commit is {flush_log_at_trx_commit}: a crash of the database "
        "host may lose acknowledged tasks; set it to 1"
    ]


def refuse_unsupported(conn: Connection) -> None:
    """Refuse a server too old for SKIP LOCKED or exact strings, before writing to it."""
    reason = refusal(str(conn.execute(text("SELECT VERSION()")).scalar_one()))
    if reason:
        raise ValidationFailed(reason)


def check_server(conn: Connection) -> list[str]:
    """Refuse servers too old for SKIP LOCKED; warn when commits are not flushed to disk."""
    refuse_unsupported(conn)
    flush = conn.execute(text("SELECT @@innodb_flush_log_at_trx_commit")).scalar_one()
    return durability_warnings(int(flush))
