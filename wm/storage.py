"""Object storage behind one interface: a local directory or S3 (boto3), chosen by ``WM_STORAGE_URL``.

``file:///srv/wm/storage`` keeps objects as files. ``s3://bucket/prefix?endpoint=http://host:9000&region=
eu-west-1&addressing=path`` talks to AWS S3, MinIO, R2 or moto; credentials come from the standard AWS
environment variables. Keys are ``/``-separated paths such as ``published/<public id>/v1/master.m3u8``.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, current_app

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("text/vtt", ".vtt")

MULTIPART_THRESHOLD = 16 * 1024 * 1024


def content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class Storage(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def fetch(self, key: str, dest: Path) -> Path: ...
    def read_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def age(self, key: str) -> float: ...
    def keys(self, prefix: str) -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...
    def copy(self, source: str, dest: str) -> None: ...
    def local_path(self, key: str) -> Path | None: ...
    def url(self, key: str, expires: int = 3600) -> str | None: ...


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/") or "\\" in key:
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalStorage:
    """Objects as files under one directory; writes land in place via a rename, never half-written."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.copyfile(path, partial)
        os.replace(partial, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, target)

    def fetch(self, key: str, dest: Path) -> Path:
        shutil.copyfile(self._path(key), dest)
        return dest

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def age(self, key: str) -> float:
        """Seconds since the object was written."""
        return time.time() - self._path(key).stat().st_mtime

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        folder = base if base.is_dir() else base.parent
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith("."):
                yield key

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        for parent in path.parents:
            if parent == self.root or any(parent.iterdir()):
                break
            parent.rmdir()

    def copy(self, source: str, dest: str) -> None:
        self.put_file(dest, self._path(source))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def url(self, key: str, expires: int = 3600) -> str | None:
        return None


class S3Storage:
    """Objects in an S3 bucket through boto3: multipart for large files, presigned URLs."""

    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str | None = None,
                 addressing: str = "auto") -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=Config(s3={"addressing_style": addressing}, retries={"max_attempts": 5, "mode": "standard"}),
        )
        self.transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer,
                                ExtraArgs={"ContentType": content_type(key)})

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type(key))

    def fetch(self, key: str, dest: Path) -> Path:
        self.client.download_file(self.bucket, self._key(key), str(dest), Config=self.transfer)
        return dest

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def size(self, key: str) -> int:
        return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]

    def age(self, key: str) -> float:
        """Seconds since the object was written."""
        modified = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["LastModified"]
        return time.time() - modified.timestamp()

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def copy(self, source: str, dest: str) -> None:
        self.client.copy({"Bucket": self.bucket, "Key": self._key(source)}, self.bucket, self._key(dest),
                         Config=self.transfer)

    def local_path(self, key: str) -> Path | None:
        return None

    def url(self, key: str, expires: int = 3600) -> str | None:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                  ExpiresIn=expires)


def from_url(url: str) -> Storage:
    """The storage backend that ``url`` names."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(parts.path))
    if parts.scheme == "s3":
        options = dict(parse_qsl(parts.query))
        return S3Storage(parts.netloc, parts.path, endpoint=options.get("endpoint"), region=options.get("region"),
                         addressing=options.get("addressing", "auto"))
    raise ValueError(f"WM_STORAGE_URL must start with file:// or s3://, not {url!r}")


def init_storage(app: Flask) -> None:
    app.extensions["wm_storage"] = from_url(app.config["WM_STORAGE_URL"])


def storage() -> Storage:
    """The app's storage backend."""
    return current_app.extensions["wm_storage"]


def delete_prefix(store: Storage, prefix: str) -> int:
    """Delete every object under ``prefix``; return how many there were."""
    keys = list(store.keys(prefix))
    for key in keys:
        store.delete(key)
    return len(keys)
