"""Staff accounts: argon2 password hashes, bearer tokens stored as SHA-256, roles, and the audit log.

Roles: ``admin`` may do everything; ``analyst`` may read reports and export answers. The FastAPI
dependencies :func:`staff` and :func:`admin` turn a missing/unknown/expired token into 401 and a wrong
role into 403. :class:`LoginThrottle` stops password guessing: after a few failures for one username or
from one address, logins there are refused with 429 for a while (counted in the database, shared by all processes).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from transmodal.server.models import AuditEntry, LoginFailure, StaffToken, StaffUser, utcnow

ROLES = ("admin", "analyst")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # bounds the work of hashing one guess
MAX_USERNAME = 100


def hasher(settings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(db: Session, ph: PasswordHasher, username: str, password: str, role: str) -> StaffUser:
    """Add a staff account; ValueError for an unknown role, a short password or a taken username."""
    username = username.strip()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not username or len(username) > MAX_USERNAME:
        raise ValueError(f"username must be 1 to {MAX_USERNAME} characters")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if db.scalar(select(StaffUser).where(StaffUser.username == username)):
        raise LookupError(f"user {username!r} already exists")
    user = StaffUser(username=username, password_hash=ph.hash(password), role=role)
    db.add(user)
    db.flush()
    return user


def login(db: Session, ph: PasswordHasher, username: str, password: str, hours: float) -> tuple[str, StaffToken] | None:
    """Check the password; on success store a new token (hash only) and return (token, row); None otherwise."""
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        ph.hash(password)       # same work as a real check, so timing does not reveal which usernames exist
        return None
    try:
        ph.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
    db.execute(delete(StaffToken).where(StaffToken.expires_at < utcnow()))
    token = secrets.token_urlsafe(32)
    row = StaffToken(token_hash=token_hash(token), user=user, expires_at=utcnow() + timedelta(hours=hours))
    db.add(row)
    return token, row


class LoginThrottle:
    """At most ``max_failures`` failed logins per key (a username, a client address) within ``window_s`` seconds.

    :meth:`retry_after` says how long a key must wait (0 = it may try); :meth:`failed` records a failure for
    each key; :meth:`succeeded` forgets them. The failures are rows of ``login_failures``
    (:class:`~transmodal.server.models.LoginFailure`), written in the caller's transaction, so every server
    process on one database counts the same failures and a restart forgets none. ``clock`` gives seconds since
    the epoch (wall-clock time, comparable between processes). Rows older than the window are deleted whenever
    a failure is recorded.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, clock=time.time):
        if max_failures < 1 or window_s <= 0:
            raise ValueError(f"max_failures must be >= 1 and window_s > 0, got {max_failures} and {window_s}")
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock

    def retry_after(self, db: Session, *keys: str) -> float:
        """Seconds until every key may try again (0 when all may try now): a key with ``max_failures`` failures
        in the window waits until the oldest of its last ``max_failures`` leaves it."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            recent = db.scalars(select(LoginFailure.at).where(LoginFailure.key == key, LoginFailure.at > now - self.window_s)
                                .order_by(LoginFailure.at.desc()).limit(self.max_failures)).all()
            if len(recent) >= self.max_failures:
                wait = max(wait, recent[-1] + self.window_s - now)
        return wait

    def failed(self, db: Session, *keys: str) -> None:
        now = self.clock()
        db.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window_s))
        db.add_all(LoginFailure(key=key, at=now) for key in keys)
        db.flush()

    def succeeded(self, db: Session, *keys: str) -> None:
        db.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))


def audit(db: Session, staff: str, action: str, target: str) -> None:
    """Record a staff action, in the same transaction as the action itself."""
    db.add(AuditEntry(staff=staff, action=action, target=target))


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "log in first: send 'Authorization: Bearer <token>' from POST /api/staff/login",
                            headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def staff(request: Request) -> StaffUser:
    """Dependency: the logged-in staff user (any role)."""
    token = _bearer(request)
    factory = request.app.state.sessions
    with factory() as db:
        row = db.scalar(select(StaffToken).where(StaffToken.token_hash == token_hash(token)))
        if row is None or row.expires_at < utcnow():
            raise HTTPException(401, "the login token is unknown or expired; log in again",
                                headers={"WWW-Authenticate": "Bearer"})
        user = row.user
        db.expunge(user)
        return user


def admin(user: StaffUser = Depends(staff)) -> StaffUser:
    """Dependency: the logged-in staff user, who must be an admin (403 otherwise)."""
    if user.role != "admin":
        raise HTTPException(403, f"this needs the admin role; {user.username!r} is {user.role}")
    return user
