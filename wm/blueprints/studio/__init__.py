"""Creator Studio: upload, watch encodes progress, edit and delete your videos."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, session
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from wm.blueprints.accounts import start_session
from wm.forms import form_view, render_form, submit
from wm.models.accounts import Role
from wm.models.media import AccessTier, Visibility
from wm.services import media as service
from wm.services.accounts import start_channel
from wm.web import fragment_of, login_required, origin, redirect_to, render, role_required

bp = Blueprint("studio", __name__, url_prefix="/studio")


class VideoForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    visibility = SelectField("Visibility", choices=[SelectChoice(v.value, v.value.capitalize()) for v in Visibility])
    access_tier = SelectField("Who can watch", choices=[
        SelectChoice(AccessTier.free.value, "Everyone"),
        SelectChoice(AccessTier.pro.value, "Pro members (others see a preview)")])


@bp.get("/")
@role_required(Role.creator)
def index() -> Response:
    """The studio: upload zone and the creator's videos."""
    return render("studio/index.html", videos=service.list_own_videos(current_user),
                  chunk_bytes=current_app.config["WM_UPLOAD_CHUNK_BYTES"],
                  max_bytes=current_app.config["WM_MAX_UPLOAD_BYTES"],
                  used_bytes=service.used_bytes(current_user.id),
                  quota_bytes=current_app.config["WM_CREATOR_QUOTA_BYTES"])


@bp.get("/videos")
@role_required(Role.creator)
@fragment_of("studio.index")
def videos() -> Response:
    """The video list alone (refreshed after an upload finishes)."""
    return render("studio/index.html", block="videos", videos=service.list_own_videos(current_user))


@bp.get("/videos/<public_id>/status")
@role_required(Role.creator)
def status(public_id: str) -> Response:
    """One video's state; polls itself while the video is uploading or processing."""
    return render("studio/_status.html", block=None, video=service.owned_video(current_user, public_id))


@bp.route("/videos/<public_id>/edit", methods=["GET", "POST"])
@form_view
@role_required(Role.creator)
def edit(public_id: str) -> Response:
    """Edit title, description, visibility and tier."""
    video = service.owned_video(current_user, public_id)
    form = VideoForm(obj=video, visibility=video.visibility.value, access_tier=video.access_tier.value)
    if submit(form, lambda: service.update_details(current_user, public_id, form.title.data, form.description.data,
                                                   form.visibility.data, form.access_tier.data)).ok:
        flash("Saved.", "success")
        return redirect_to("studio.index")
    return render_form("studio/edit.html", form, video=video)


@bp.post("/videos/<public_id>/delete")
@role_required(Role.creator)
def delete(public_id: str) -> Response:
    """Delete a video (its files are removed in the background)."""
    service.delete_video(current_user, public_id, origin=origin())
    flash("The video is deleted.", "info")
    return redirect_to("studio.index")


class StartChannelForm(FlaskForm):
    accept = BooleanField("I have read the content policy and my uploads will follow it")


@bp.route("/start", methods=["GET", "POST"])
@form_view
@login_required
def start() -> Response:
    """Start your channel: accept the content policy and become a creator."""
    if current_user.has_role(Role.creator):
        return redirect_to("studio.index")
    form = StartChannelForm()
    result = submit(form, lambda: start_channel(current_user, form.accept.data, origin=origin()))
    if result.ok and result.value is not None:
        start_session(result.value, authenticated_at=session.get("_auth_at"))  # new privileges, new session id
        flash("Your channel is open: upload your first video.", "success")
        return redirect_to("studio.index")
    return render_form("studio/start.html", form)
