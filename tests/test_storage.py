"""Both storage backends honour one contract: a local folder, and S3 through boto3 against moto over HTTP."""

from __future__ import annotations

import os

import boto3
import pytest
import requests

from tests.fixtures.media import make_clip, publish_through_workers
from wm.storage import LocalStorage, S3Storage, delete_prefix, from_url


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return from_url(f"file://{tmp_path / 'objects'}")
    return from_url(request.getfixturevalue("s3_storage_url"))


def test_storage_contract(store, tmp_path):
    source = tmp_path / "file.bin"
    source.write_bytes(b"hello" * 1000)
    store.put_file("published/abc/v1/file.bin", source)
    store.put_bytes("published/abc/v1/master.m3u8", b"#EXTM3U\n")
    assert store.exists("published/abc/v1/file.bin") and not store.exists("published/abc/v1/none")
    assert store.size("published/abc/v1/file.bin") == 5000
    assert store.read_bytes("published/abc/v1/master.m3u8") == b"#EXTM3U\n"
    store.copy("published/abc/v1/file.bin", "published/abc/v2/file.bin")
    assert list(store.keys("published/abc/")) == ["published/abc/v1/file.bin", "published/abc/v1/master.m3u8",
                                                   "published/abc/v2/file.bin"]
    assert store.fetch("published/abc/v2/file.bin", tmp_path / "back.bin").read_bytes() == source.read_bytes()
    assert 0 <= store.age("published/abc/v1/file.bin") < 60
    assert delete_prefix(store, "published/abc/v1/") == 2
    assert list(store.keys("published/abc/")) == ["published/abc/v2/file.bin"]
    for bad in ("../etc/passwd", "/abs", "a/../../b"):
        with pytest.raises(ValueError):
            store.exists(bad)


def test_s3_presigned_urls_and_multipart(s3_storage_url, s3_endpoint, s3_bucket, tmp_path):
    store = from_url(s3_storage_url)
    assert isinstance(store, S3Storage)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    store.put_file("raw/xyz/source", big)
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(Bucket=s3_bucket, Key="media/raw/xyz/source")
    assert head["ContentLength"] == big.stat().st_size
    assert "-" in head["ETag"], "a 20 MiB object should go up in parts"
    url = store.url("raw/xyz/source", 60)
    assert url.startswith(f"{s3_endpoint}/{s3_bucket}/media/raw/xyz/source?")
    fetched = requests.get(url, headers={"Range": "bytes=0-9"})
    assert fetched.status_code == 206 and fetched.content == big.read_bytes()[:10]


def test_s3_virtual_host_addressing_builds_bucket_host_urls(s3_bucket):
    store = from_url(f"s3://{s3_bucket}?endpoint=http://s3.example.test&addressing=virtual")
    assert store.url("published/a/master.m3u8", 60).startswith(f"http://{s3_bucket}.s3.example.test/published/a/")


def test_unknown_storage_urls_are_refused():
    with pytest.raises(ValueError, match="WM_STORAGE_URL"):
        from_url("ftp://example.test/x")
    assert isinstance(from_url("file:///tmp/wm-storage-test"), LocalStorage)


def test_the_whole_pipeline_on_s3(s3_app, s3_endpoint, s3_bucket, clip_dir):
    _, public_id = publish_through_workers(s3_app, make_clip(clip_dir, "landscape"))
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket=s3_bucket)["Contents"]]
    assert f"media/published/{public_id}/v1/master.m3u8" in keys
    assert not [k for k in keys if k.startswith(("media/raw/", "media/processing/"))]
    client = s3_app.test_client()
    playlist = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    segment = next(line for line in playlist.splitlines() if line.startswith("http"))
    assert segment.startswith(f"{s3_endpoint}/{s3_bucket}/media/published/{public_id}/v1/720p/seg_00000.ts?")
    assert requests.get(segment).status_code == 200
