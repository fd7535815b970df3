"""The tus 1.0 resumable-upload API: core, creation, creation-with-upload, termination, checksum, expiration."""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import format_datetime

from flask import Blueprint, Response, current_app, make_response, request, url_for
from flask_login import current_user

from wm.models.accounts import Role
from wm.services import DomainError
from wm.services.media import upload as service
from wm.validation import parse_int
from wm.web import error_page, origin, role_required

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")

bp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads")


@bp.after_request
def tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> Response:
    return error_page(exc.status, exc.message)


def _int_header(name: str) -> int:
    return parse_int(request.headers.get(name), name)


def _metadata() -> dict[str, str]:
    """Decode ``Upload-Metadata: key base64,key2 base64``."""
    metadata = {}
    for pair in filter(None, (p.strip() for p in request.headers.get("Upload-Metadata", "").split(","))):
        key, _, value = pair.partition(" ")
        # tus: keys are ASCII without spaces or commas; values base64 (which is ASCII too)
        if not METADATA_KEY.fullmatch(key):
            raise DomainError("Upload-Metadata keys must be ASCII letters, digits and -_. only.")
        try:
            metadata[key] = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeError):
            raise DomainError(f"Upload-Metadata value for {key!r} is not base64 UTF-8.") from None
    return metadata


def _check_version() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise DomainError(f"Send Tus-Resumable: {TUS_VERSION}.")


def _offset_response(upload, status: int = 204) -> Response:
    response = make_response("", status)
    response.headers["Upload-Offset"] = str(upload.offset)
    response.headers["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    return response


def _write_body(upload, offset: int, required: bool = True) -> None:
    """Append the request's body: the file nginx buffered it to, or else the request stream."""
    body = service.offloaded_body(request.headers.get("X-Upload-Body-File", ""),
                                  request.headers.get("X-Upload-Body-Key", ""))
    if body is None:
        request.max_content_length = service.max_patch_bytes()
        length = request.content_length
    else:
        length = body.stat().st_size
    if not length and not required:
        return
    if request.mimetype != OFFSET_TYPE:
        raise DomainError(f"Content-Type must be {OFFSET_TYPE}.")
    checksum = service.parse_checksum(request.headers.get("Upload-Checksum"))
    service.append(upload, offset, body if body is not None else request.stream, length, checksum)


@bp.route("/", methods=["OPTIONS"], provide_automatic_options=False)
def options() -> Response:
    """What this tus server supports."""
    response = make_response("", 204)
    response.headers.update({"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
                             "Tus-Max-Size": str(current_app.config["WM_MAX_UPLOAD_BYTES"]),
                             "Tus-Checksum-Algorithm": "sha1"})
    return response


@bp.post("/")
@role_required(Role.creator)
def create() -> Response:
    """Create an upload (and, with a body, write its first bytes)."""
    _check_version()
    if request.headers.get("Upload-Defer-Length"):
        raise DomainError("Upload-Defer-Length is not supported; send Upload-Length.")
    upload = service.create(current_user, _int_header("Upload-Length"), _metadata(), origin=origin())
    _write_body(upload, 0, required=False)
    response = _offset_response(upload, 201)
    response.headers["Location"] = url_for("uploads.upload", upload_id=upload.id, _external=False)
    response.headers["X-Video-Id"] = upload.video.public_id
    return response


@bp.route("/<upload_id>", methods=["HEAD"])
@role_required(Role.creator)
def upload(upload_id: str) -> Response:
    """Where an upload stands."""
    _check_version()
    upload = service.get(current_user, upload_id)
    response = _offset_response(upload, 200)
    response.headers["Upload-Length"] = str(upload.length)
    return response


@bp.patch("/<upload_id>")
@role_required(Role.creator)
def append(upload_id: str) -> Response:
    """Append bytes at ``Upload-Offset``."""
    _check_version()
    upload = service.get(current_user, upload_id)
    _write_body(upload, _int_header("Upload-Offset"))
    return _offset_response(upload)


@bp.delete("/<upload_id>")
@role_required(Role.creator)
def terminate(upload_id: str) -> Response:
    """Abandon an upload."""
    _check_version()
    service.terminate(service.get(current_user, upload_id), current_user, origin=origin())
    return make_response("", 204)
