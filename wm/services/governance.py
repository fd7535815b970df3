"""Governance services: writing the audit log."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from wm.extensions import db
from wm.models.accounts import User
from wm.models.governance import AuditRecord
from wm.services import Origin


def audit(
    event_type: str,
    target_type: str,
    target_id: Any,
    actor: User | None = None,
    payload: dict | None = None,
    origin: Origin | None = None,
) -> AuditRecord:
    """Add an audit record to the current transaction (the caller commits it with its change)."""
    origin = origin or Origin()
    record = AuditRecord(
        event_type=event_type,
        actor_id=actor.id if actor is not None else None,
        target_type=target_type,
        target_id=str(target_id),
        payload=payload or {},
        ip_address=origin.ip_address,
        user_agent=(origin.user_agent or "")[:255] or None,
    )
    db.session.add(record)
    return record


def recent_audit(limit: int = 50) -> list[AuditRecord]:
    """The newest audit records first."""
    query = db.select(AuditRecord).options(selectinload(AuditRecord.actor)).order_by(AuditRecord.id.desc())
    return list(db.session.scalars(query.limit(limit)))


def latest_event(target_type: str, target_id: Any, event_types: Collection[str]) -> str | None:
    """The type of the newest audit record of ``target`` among ``event_types`` (None if there is none)."""
    query = (select(AuditRecord.event_type)
             .where(AuditRecord.target_type == target_type, AuditRecord.target_id == str(target_id),
                    AuditRecord.event_type.in_(list(event_types)))
             .order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(1))
    return db.session.scalar(query)
