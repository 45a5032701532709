"""API keys: generated here, shown once, stored as a SHA-256 hash.

The secrets are 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from taskmanager.errors import NotFound
from taskmanager.models import ApiKeyInfo
from taskmanager.roles import Role
from taskmanager.storage.rows import from_db_time
from taskmanager.storage.schema import api_keys

KEY_PREFIX = "tm_"


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh secret key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _info(row: Row[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=from_db_time(row.created_at),
        revoked_at=from_db_time(row.revoked_at),
    )


def create_key(
    conn: Connection, now: datetime, name: str, role: Role, key: str | None = None
) -> tuple[str, ApiKeyInfo]:
    """Make a key (a new secret, or the one given); the secret is returned here and never again."""
    key = key or new_key()
    row = {
        "id": str(uuid.uuid4()),
        "name": name,
        "role": role.value,
        "key_hash": hash_key(key),
        "prefix": key[: len(KEY_PREFIX) + 6],
        "created_at": now,
        "revoked_at": None,
    }
    conn.execute(insert(api_keys).values(**row))
    return key, ApiKeyInfo(
        id=row["id"],
        name=name,
        role=role,
        prefix=row["prefix"],
        created_at=from_db_time(now),
        revoked_at=None,
    )


def find_key(conn: Connection, key: str) -> ApiKeyInfo | None:
    """The key with this secret, revoked or not; None for a key we never made."""
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(key))).first()
    return None if row is None else _info(row)


def ensure_key(conn: Connection, now: datetime, name: str, role: Role, key: str) -> ApiKeyInfo:
    """The key with this secret, stored first if it is new."""
    return find_key(conn, key) or create_key(conn, now, name, role, key)[1]


def count_active(conn: Connection) -> int:
    query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
    return int(conn.execute(query).scalar_one())


def list_keys(conn: Connection) -> list[ApiKeyInfo]:
    rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.name))
    return [_info(row) for row in rows]


def revoke_key(conn: Connection, now: datetime, id_or_name: str) -> list[ApiKeyInfo]:
    """Revoke the key with this id, or every active key with this name."""
    match = or_(api_keys.c.id == id_or_name, api_keys.c.name == id_or_name)
    rows = conn.execute(select(api_keys).where(match, api_keys.c.revoked_at.is_(None))).all()
    if not rows:
        raise NotFound(f"no active API key with id or name {id_or_name!r}")
    conn.execute(
        update(api_keys).where(api_keys.c.id.in_([row.id for row in rows])).values(revoked_at=now)
    )
    revoked_at = from_db_time(now)
    return [_info(row).model_copy(update={"revoked_at": revoked_at}) for row in rows]
