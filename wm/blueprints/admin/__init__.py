"""Admin Control Panel: accounts, roles and the audit trail."""

from __future__ import annotations

from flask import Blueprint, Response, flash, request
from flask_login import current_user

from wm.models.accounts import Role, Tier
from wm.queues import current_queue_depths
from wm.services import accounts as account_service
from wm.services.governance import recent_audit
from wm.web import fragment_of, origin, query_int, redirect_to, render, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(Role.admin)
def index() -> Response:
    """Accounts with their role and tier, and the latest audit records."""
    return render("admin/index.html", users=account_service.list_users(page=query_int("page", 1)),
                  roles=list(Role), tiers=list(Tier), audit=recent_audit(20), queues=current_queue_depths())


@bp.get("/queues")
@role_required(Role.admin)
@fragment_of("admin.index")
def queues() -> Response:
    """The queue chart alone; it refreshes itself every few seconds."""
    return render("admin/index.html", block="queues", queues=current_queue_depths())


@bp.post("/users/<int:user_id>/role")
@role_required(Role.admin)
def user_role(user_id: int) -> Response:
    """Set an account's role and tier."""
    user = account_service.set_role_and_tier(current_user, user_id, request.form.get("role", ""),
                                             request.form.get("tier", ""), origin=origin())
    flash(f"@{user.handle} is now {user.role.value} ({user.tier.value}).", "success")
    return redirect_to("admin.index")


@bp.post("/users/<int:user_id>/revoke-channel")
@role_required(Role.admin)
def user_revoke_channel(user_id: int) -> Response:
    """Take a creator's channel away (the account becomes a viewer)."""
    user = account_service.revoke_channel(current_user, user_id, origin=origin())
    flash(f"@{user.handle}'s channel is revoked; the account is a viewer now.", "success")
    return redirect_to("admin.index")
