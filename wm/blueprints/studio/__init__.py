"""Creator Studio: upload, watch encodes progress, edit and delete your videos."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from wm.blueprints.accounts import start_session
from wm.forms import form_view, render_form, submit
from wm.models.accounts import Role
from wm.models.media import DESCRIPTION_MAX, TITLE_MAX, AccessTier, Visibility
from wm.services import media as service
from wm.services.accounts import start_channel
from wm.services.media import upload as upload_service
from wm.web import (
    error_page,
    fragment_of,
    login_required,
    origin,
    redirect_to,
    render,
    role_required,
    wants_fragment,
)

bp = Blueprint("studio", __name__, url_prefix="/studio")


class VideoForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])
    description = TextAreaField("Description", validators=[Length(max=DESCRIPTION_MAX)])
    visibility = SelectField("Visibility", choices=[SelectChoice(v.value, v.value.capitalize()) for v in Visibility])
    access_tier = SelectField("Who can watch", choices=[
        SelectChoice(AccessTier.free.value, "Everyone"),
        SelectChoice(AccessTier.pro.value, "Pro members (others see a preview)")])


@bp.get("/")
@role_required(Role.creator)
def index() -> Response:
    """The studio: upload zone and the creator's videos."""
    return studio_page()


def studio_page(status: int = 200) -> Response:
    """The studio page for the signed-in creator."""
    return render("studio/index.html", status=status, videos=service.list_own_videos(current_user),
                  max_chunk_bytes=upload_service.max_patch_bytes(),
                  form_max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
                  max_bytes=current_app.config["WM_MAX_UPLOAD_BYTES"],
                  used_bytes=service.used_bytes(current_user.id),
                  quota_bytes=current_app.config["WM_CREATOR_QUOTA_BYTES"])


@bp.get("/videos")
@role_required(Role.creator)
@fragment_of("studio.index")
def videos() -> Response:
    """The video list alone (refreshed after an upload finishes)."""
    return render("studio/index.html", block="videos", videos=service.list_own_videos(current_user))


@bp.context_processor
def upload_helpers() -> dict:
    """What the status lines need: how far a video's upload or encode is."""
    return {"progress_percent": upload_service.progress_percent}


@bp.get("/videos/<public_id>/status")
@role_required(Role.creator)
def status(public_id: str) -> Response:
    """One video's state; polls itself while the video is uploading or processing."""
    return render("studio/_status.html", block=None, video=service.owned_video(current_user, public_id))


@bp.get("/videos/<public_id>/row")
@role_required(Role.creator)
def row(public_id: str) -> Response:
    """One row of "Your videos"; polls itself while the video is uploading or processing."""
    video = service.owned_video(current_user, public_id)
    if not wants_fragment():
        return redirect_to("studio.index")  # opened as a page: the row is only meaningful in its table
    return render("studio/_row.html", block=None, video=video, oob=False)


def in_studio() -> bool:
    """Whether this htmx request comes from the studio page, which shows the video's row."""
    current = urlsplit(request.headers.get("HX-Current-URL", "")).path
    return wants_fragment() and current == url_for("studio.index")


@bp.route("/videos/<public_id>/edit", methods=["GET", "POST"])
@form_view
@role_required(Role.creator)
def edit(public_id: str) -> Response:
    """Edit title, description, visibility and tier."""
    video = service.owned_video(current_user, public_id)
    form = VideoForm(obj=video, visibility=video.visibility.value, access_tier=video.access_tier.value)
    if submit(form, lambda: service.update_details(current_user, public_id, form.title.data, form.description.data,
                                                   form.visibility.data, form.access_tier.data, origin=origin())).ok:
        flash("Saved.", "success")
        return redirect_to("studio.index")
    return render_form("studio/edit.html", form, video=video)


@bp.route("/videos/<public_id>/details", methods=["GET", "POST"])
@form_view
@role_required(Role.creator)
def details(public_id: str) -> Response:
    """The details-and-publish step beside a new upload: saving does not wait for the encode."""
    video = service.owned_video(current_user, public_id)
    form = VideoForm(obj=video, visibility=video.visibility.value, access_tier=video.access_tier.value)
    own_ids(form, public_id)
    if "publish" in request.form:
        form.visibility.data = Visibility.published.value
    if submit(form, lambda: service.update_details(current_user, public_id, form.title.data, form.description.data,
                                                   form.visibility.data, form.access_tier.data, origin=origin())).ok:
        notice = saved_message(video)
        if not wants_fragment():
            flash(notice, "success")
            return redirect_to("studio.index")
        return render("studio/details.html", block="details", form=form, video=video, notice=notice,
                      row_oob=in_studio())
    return render_form("studio/details.html", form, block="details", video=video, notice=None)


def own_ids(form: FlaskForm, public_id: str) -> None:
    """Give the form's fields ids of their own: the studio shows one details form per upload, and a label
    must point to the field beside it, not to the first upload's."""
    for f in form:
        f.id = f.label.field_id = f"{public_id}-{f.name}"


def saved_message(video) -> str:
    """What saving did, in words that match the video's visibility and state."""
    if video.visibility is not Visibility.published:
        return f"Saved. It stays {video.visibility.value} until you publish it."
    if video.playable:
        return "Published: it is in the feed now."
    return "Published: it appears in the feed as soon as processing is done."


@bp.post("/videos/<public_id>/publish")
@role_required(Role.creator)
def publish(public_id: str) -> Response:
    """Publish a video (the owner's button on its watch page)."""
    video = service.publish(current_user, public_id, origin=origin())
    flash(saved_message(video), "success")
    return redirect_to("media.watch", public_id=public_id)


@bp.post("/upload")
@role_required(Role.creator)
def upload() -> Response:
    """Upload files with a plain form (the studio without JavaScript), then ask for their details."""
    files = [file for file in request.files.getlist("file") if file.filename]
    if not files:
        flash("Choose a file to upload first.", "error")
        return studio_page(status=400)
    videos = []
    for file in files:
        file.stream.seek(0, os.SEEK_END)
        length = file.stream.tell()
        file.stream.seek(0)
        videos.append(upload_service.upload_stream(current_user, file.stream, file.filename, length, origin=origin()))
    if len(videos) > 1:
        flash(f"Uploaded {len(videos)} files; they are being processed. Give each a title and publish it "
              "with Edit.", "success")
        return redirect_to("studio.index")
    flash("Uploaded; it is being processed. Give it a title and publish it here.", "success")
    return redirect_to("studio.details", public_id=videos[0].public_id)


def drain_body(at_most: int) -> None:
    """Read and drop the request body when it is at most ``at_most`` bytes long.

    nginx sends the form upload it has buffered (up to a little past the app's limit) while gunicorn answers:
    an answer given before the body is read closes the connection under nginx's feet, which then shows its
    maintenance page instead of this one.
    """
    length = request.content_length or 0
    if length > at_most:
        return
    body = request.environ["wsgi.input"]
    while length > 0 and (chunk := body.read(min(length, 1024**2))):
        length -= len(chunk)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Response:
    """A plain form upload past the request limit (refused before the view, while the CSRF check reads it)."""
    if request.endpoint != "studio.upload":
        return error_page(413, exc.description)
    drain_body(2 * current_app.config["MAX_CONTENT_LENGTH"])
    limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024**2
    return error_page(413, f"Without JavaScript files can be up to {limit} MB together; turn JavaScript on for "
                           "larger files (they upload in resumable pieces).")


@bp.get("/videos/<public_id>/delete")
@role_required(Role.creator)
def delete_confirm(public_id: str) -> Response:
    """Ask before deleting (the page behind the Delete link when JavaScript is off)."""
    return render("studio/delete.html", video=service.owned_video(current_user, public_id))


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
        flash("Your channel is open: upload videos here.", "success")
        return redirect_to("studio.index")
    return render_form("studio/start.html", form)
