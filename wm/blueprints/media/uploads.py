"""The tus 1.0 resumable-upload API: core, creation, creation-with-upload, termination, checksum, expiration.

The tus headers are the protocol, so the views read them themselves (tus's own errors and messages); the
decorators only describe them for the OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import format_datetime
from typing import Any

from flask import Response, current_app, make_response, request, url_for
from flask_login import current_user

from wm.api import PROBLEM_MIMETYPE, ProblemSchema, answers, api_blueprint, requires
from wm.models.accounts import Role, Scope
from wm.services import DomainError
from wm.services.media import upload as service
from wm.validation import parse_int
from wm.web import origin

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")

bp = api_blueprint("uploads", __name__, "Resumable uploads with tus 1.0 (https://tus.io/protocols/resumable-upload): "
                                        "creation, creation-with-upload, termination, checksum (sha1), expiration. "
                                        "Any tus client works; a token needs the upload scope.")


def _header(description: str, **schema: Any) -> dict:
    """A header of a request or answer, for the document."""
    return {"description": description, "schema": {"type": "string"} | schema}


COUNT = {"type": "integer", "minimum": 0}
HEADERS = {
    "Tus-Resumable": _header("The tus version spoken: always 1.0.0", enum=[TUS_VERSION]),
    "Upload-Length": _header("The whole file's size in bytes", **COUNT),
    "Upload-Offset": _header("How many bytes of the file the server holds", **COUNT),
    "Upload-Metadata": _header("Comma-separated `key base64(value)` pairs; `filename` and `title` are used"),
    "Upload-Checksum": _header("`sha1 base64(digest)` of this request's body: a body that does not match is "
                               "dropped (460)"),
    "Upload-Expires": _header("When an unfinished upload is removed (RFC 9110 date)"),
    "Location": _header("The upload's URL, for HEAD, PATCH and DELETE"),
    "X-Video-Id": _header("The public id of the video this upload becomes (`/api/v1/videos/{public_id}`, "
                          "`/v/{public_id}`)"),
}


def _parameters(*names: str, optional: tuple[str, ...] = ()) -> list[dict]:
    """Request headers, as OpenAPI parameters (required unless named in ``optional``)."""
    return [{"in": "header", "name": name, "required": name not in optional, **HEADERS[name]}
            for name in (*names, *optional)]


def _answer(*names: str) -> dict:
    """Headers of a successful answer: Tus-Resumable and ``names``."""
    return {name: HEADERS[name] for name in ("Tus-Resumable", *names)}


def _body(required: bool) -> dict:
    return {"requestBody": {"required": required, "content": {OFFSET_TYPE: {"schema": {
        "type": "string", "format": "binary"}}}}}


@bp.after_request
def tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 412:
        response.headers["Tus-Version"] = TUS_VERSION  # tus: the versions it does speak
    return response


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


class UnsupportedVersion(DomainError):
    status = 412  # tus: a version the server does not speak is a failed precondition


def _check_version() -> None:
    version = request.headers.get("Tus-Resumable")
    if version is None:
        raise DomainError(f"Send Tus-Resumable: {TUS_VERSION}.")
    if version != TUS_VERSION:
        raise UnsupportedVersion(f"This server speaks tus {TUS_VERSION} only: send Tus-Resumable: {TUS_VERSION}.")


def _offset_response(upload, status: int = 204) -> Response:
    response = make_response("", status)
    response.headers["Upload-Offset"] = str(upload.offset)
    response.headers["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    response.headers["X-Video-Id"] = upload.video.public_id
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


@bp.route("/uploads/", methods=["OPTIONS"], provide_automatic_options=False)
@requires(None)
@bp.response(204, description="The tus versions, extensions and limits of this server", headers={
    "Tus-Version": _header("Protocol versions spoken", enum=[TUS_VERSION]),
    "Tus-Extension": _header(f"Extensions: {EXTENSIONS}"),
    "Tus-Max-Size": _header("The largest upload in bytes", **COUNT),
    "Tus-Checksum-Algorithm": _header("Checksum algorithms of Upload-Checksum", enum=["sha1"]),
})
def options() -> Response:
    """What this tus server supports."""
    response = make_response("", 204)
    response.headers.update({"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
                             "Tus-Max-Size": str(current_app.config["WM_MAX_UPLOAD_BYTES"]),
                             "Tus-Checksum-Algorithm": "sha1"})
    return response


@bp.post("/uploads/")
@requires(Scope.upload, Role.creator)
@bp.doc(parameters=_parameters("Tus-Resumable", "Upload-Length", optional=("Upload-Metadata", "Upload-Checksum")),
        **_body(required=False))
@answers(400, 412, 413)
@bp.response(201, description="The upload exists (and holds the body's bytes, if one came)",
             headers=_answer("Location", "Upload-Offset", "Upload-Expires", "X-Video-Id"))
def create() -> Response:
    """Create an upload (and, with a body, write its first bytes)."""
    _check_version()
    if request.headers.get("Upload-Defer-Length"):
        raise DomainError("Upload-Defer-Length is not supported; send Upload-Length.")
    upload = service.create(current_user, _int_header("Upload-Length"), _metadata(), origin=origin())
    _write_body(upload, 0, required=False)
    response = _offset_response(upload, 201)
    response.headers["Location"] = url_for("uploads.upload", upload_id=upload.id, _external=False)
    return response


@bp.route("/uploads/<upload_id>", methods=["HEAD"])
@requires(Scope.upload, Role.creator)
@bp.doc(parameters=_parameters("Tus-Resumable"))
@answers(404, 410, 412)
@bp.response(200, description="Where the upload stands (no body)",
             headers=_answer("Upload-Offset", "Upload-Length", "Upload-Expires", "X-Video-Id"))
def upload(upload_id: str) -> Response:
    """Where an upload stands."""
    _check_version()
    upload = service.get(current_user, upload_id)
    response = _offset_response(upload, 200)
    response.headers["Upload-Length"] = str(upload.length)
    return response


@bp.patch("/uploads/<upload_id>")
@requires(Scope.upload, Role.creator)
@bp.doc(parameters=_parameters("Tus-Resumable", "Upload-Offset", optional=("Upload-Checksum",)),
        **_body(required=True))
@answers(400, 404, 409, 410, 412, 413)
@bp.alt_response(460, schema=ProblemSchema, content_type=PROBLEM_MIMETYPE,
                 description="Checksum Mismatch: the body does not match Upload-Checksum, and was dropped")
@bp.response(204, description="The bytes are stored", headers=_answer("Upload-Offset", "Upload-Expires",
                                                                      "X-Video-Id"))
def append(upload_id: str) -> Response:
    """Append the body's bytes at Upload-Offset."""
    _check_version()
    upload = service.get(current_user, upload_id)
    _write_body(upload, _int_header("Upload-Offset"))
    return _offset_response(upload)


@bp.delete("/uploads/<upload_id>")
@requires(Scope.upload, Role.creator)
@bp.doc(parameters=_parameters("Tus-Resumable"))
@answers(400, 404, 409, 410, 412)
@bp.response(204, description="The upload and its bytes are gone", headers=_answer())
def terminate(upload_id: str) -> Response:
    """Abandon an upload."""
    _check_version()
    service.terminate(service.get(current_user, upload_id), current_user, origin=origin())
    return make_response("", 204)
