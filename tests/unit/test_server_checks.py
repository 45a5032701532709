"""What the server says about a database at start: refusals and durability warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskmanager.errors import ValidationFailed
from taskmanager.storage import EngineOptions, make_engine, mysql, postgres, sqlite


def test_mariadb_before_10_6_is_refused() -> None:
    reason = mysql.refusal("10.5.23-MariaDB-1:10.5.23+maria~deb11")
    assert reason is not None
    assert "10.6" in reason and "MariaDB" in reason


def test_mariadb_10_6_and_later_are_accepted() -> None:
    assert mysql.refusal("10.6.0-MariaDB") is None
    assert mysql.refusal("10.11.19-MariaDB-0+deb12u1") is None
    assert mysql.refusal("11.4.2-MariaDB") is None


def test_mysql_needs_8_0_17() -> None:
    assert mysql.refusal("8.0.0") is not None
    assert mysql.refusal("5.7.44-log") is not None
    reason = mysql.refusal("8.0.16")
    assert reason is not None and "8.0.17" in reason and "collation" in reason
    assert mysql.refusal("8.0.17") is None
    assert mysql.refusal("8.4.0") is None


def test_sqlite_before_3_33_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reason = sqlite.refusal((3, 32, 3))
    assert reason is not None and "3.33.0" in reason and "3.32.3" in reason
    assert sqlite.refusal((3, 33, 0)) is None
    assert sqlite.refusal((3, 46, 1)) is None
    monkeypatch.setattr("sqlite3.sqlite_version_info", (3, 31, 1))
    with pytest.raises(ValidationFailed, match=r"SQLite 3\.33\.0 or newer"):
        make_engine(f"sqlite:///{tmp_path}/tasks.db", EngineOptions())


def test_unflushed_innodb_commits_are_warned_about() -> None:
    assert mysql.durability_warnings(1) == []
    (warning,) = mysql.durability_warnings(2)
    assert "innodb_flush_log_at_trx_commit" in warning


def test_postgres_durability_settings_are_warned_about() -> None:
    assert postgres.durability_warnings({"fsync": "on", "synchronous_commit": "on"}) == []
    assert postgres.durability_warnings({"fsync": "on", "synchronous_commit": "remote_apply"}) == []
    warnings = postgres.durability_warnings({"fsync": "off", "synchronous_commit": "off"})
    assert len(warnings) == 2
    assert any("fsync" in w for w in warnings)
    assert any("synchronous_commit" in w for w in warnings)
