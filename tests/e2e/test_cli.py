"""The aws CLI (v1) against a node: s3 cp/ls/sync/rm/mb/rb and s3api."""

import json
import os
import time

import pytest

from e2e_helpers import md5_hex, random_bytes, unique_bucket

MIB = 1024 * 1024


def ok(result):
    rc, out, err = result
    assert rc == 0, f"aws exited {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    return out


@pytest.fixture
def cli_bucket(node, s3):
    name = unique_bucket("cli")
    s3.create_bucket(Bucket=name)
    return name


def test_cli_mb_ls_rb_bucket_lifecycle(node, s3):
    name = unique_bucket("cli-mb")
    out = ok(node.aws("s3", "mb", f"s3://{name}"))
    assert f"make_bucket: {name}" in out
    assert name in ok(node.aws("s3", "ls")).split()
    ok(node.aws("s3", "rb", f"s3://{name}"))
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_cli_cp_small_file_up_and_down_is_byte_identical(node, s3, cli_bucket, tmp_path):
    src = tmp_path / "small.bin"
    data = random_bytes(12345, seed=90)
    src.write_bytes(data)
    ok(node.aws("s3", "cp", str(src), f"s3://{cli_bucket}/dir/small.bin"))
    assert s3.get_object(Bucket=cli_bucket, Key="dir/small.bin")["Body"].read() == data
    dst = tmp_path / "back.bin"
    ok(node.aws("s3", "cp", f"s3://{cli_bucket}/dir/small.bin", str(dst)))
    assert dst.read_bytes() == data


def test_cli_cp_20mib_file_uses_multipart_and_roundtrips(node, s3, cli_bucket, tmp_path):
    src = tmp_path / "large.bin"
    data = random_bytes(20 * MIB + 123, seed=91)
    src.write_bytes(data)
    ok(node.aws("s3", "cp", str(src), f"s3://{cli_bucket}/large.bin"))
    head = s3.head_object(Bucket=cli_bucket, Key="large.bin")
    assert head["ContentLength"] == len(data)
    # the CLI's default 8 MiB chunks: three parts, so a multipart ETag
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    assert s3.list_multipart_uploads(Bucket=cli_bucket).get("Uploads", []) == []
    dst = tmp_path / "large.back"
    ok(node.aws("s3", "cp", f"s3://{cli_bucket}/large.bin", str(dst)))
    assert md5_hex(dst.read_bytes()) == md5_hex(data)


def test_cli_ls_lists_objects_and_prefixes(node, s3, cli_bucket):
    for k in ("top.txt", "logs/a.log", "logs/b.log", "img/c.png"):
        s3.put_object(Bucket=cli_bucket, Key=k, Body=b"12345")
    out = ok(node.aws("s3", "ls", f"s3://{cli_bucket}/"))
    assert "PRE logs/" in out and "PRE img/" in out
    assert "top.txt" in out and "a.log" not in out
    out = ok(node.aws("s3", "ls", f"s3://{cli_bucket}/logs/"))
    names = [line.split()[-1] for line in out.strip().splitlines()]
    assert names == ["a.log", "b.log"]
    out = ok(node.aws("s3", "ls", "--recursive", f"s3://{cli_bucket}"))
    assert sorted(line.split()[-1] for line in out.strip().splitlines()) == sorted(
        ["top.txt", "logs/a.log", "logs/b.log", "img/c.png"]
    )


def test_cli_sync_uploads_only_changes_and_syncs_back(node, s3, cli_bucket, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "b.bin": random_bytes(3000, seed=92), "sub/c.txt": b"charlie"}
    an_hour_ago = time.time() - 3600
    for rel, data in files.items():
        (src / rel).write_bytes(data)
        # older than any upload, so sync's "local is newer" check depends on sizes only
        os.utime(src / rel, (an_hour_ago, an_hour_ago))
    out = ok(node.aws("s3", "sync", str(src), f"s3://{cli_bucket}/tree"))
    assert out.count("upload:") == 3
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=cli_bucket, Prefix="tree/")["Contents"])
    assert listed == ["tree/a.txt", "tree/b.bin", "tree/sub/c.txt"]
    # nothing changed: nothing uploaded
    out = ok(node.aws("s3", "sync", str(src), f"s3://{cli_bucket}/tree"))
    assert "upload:" not in out
    # one file grows: only it is uploaded
    (src / "a.txt").write_bytes(b"alpha, longer now")
    out = ok(node.aws("s3", "sync", str(src), f"s3://{cli_bucket}/tree"))
    assert out.count("upload:") == 1 and "a.txt" in out
    # and back down to a fresh directory
    back = tmp_path / "back"
    ok(node.aws("s3", "sync", f"s3://{cli_bucket}/tree", str(back)))
    files["a.txt"] = b"alpha, longer now"
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data
    got = sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file())
    assert got == sorted(files)


def test_cli_sync_delete_removes_remote_extras(node, s3, cli_bucket, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep.txt").write_bytes(b"keep")
    s3.put_object(Bucket=cli_bucket, Key="mirror/extra.txt", Body=b"extra")
    out = ok(node.aws("s3", "sync", "--delete", str(src), f"s3://{cli_bucket}/mirror"))
    assert "delete:" in out
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=cli_bucket, Prefix="mirror/")["Contents"]]
    assert keys == ["mirror/keep.txt"]


def test_cli_rm_single_and_recursive(node, s3, cli_bucket):
    for k in ("x/1", "x/2", "x/3", "y"):
        s3.put_object(Bucket=cli_bucket, Key=k, Body=b"z")
    ok(node.aws("s3", "rm", f"s3://{cli_bucket}/y"))
    out = ok(node.aws("s3", "rm", "--recursive", f"s3://{cli_bucket}/x/"))
    assert out.count("delete:") == 3
    assert s3.list_objects_v2(Bucket=cli_bucket)["KeyCount"] == 0


def test_cli_s3api_put_head_get_list(node, cli_bucket, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"s3api body")
    put = json.loads(ok(node.aws("s3api", "put-object", "--bucket", cli_bucket, "--key", "api.txt",
                                 "--body", str(src), "--content-type", "text/plain",
                                 "--metadata", "origin=cli")))
    assert put["ETag"] == f'"{md5_hex(b"s3api body")}"'
    head = json.loads(ok(node.aws("s3api", "head-object", "--bucket", cli_bucket, "--key", "api.txt")))
    assert head["ContentLength"] == 10
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"origin": "cli"}
    out_file = tmp_path / "out.txt"
    get = json.loads(ok(node.aws("s3api", "get-object", "--bucket", cli_bucket, "--key", "api.txt", str(out_file))))
    assert get["ETag"] == put["ETag"]
    assert out_file.read_bytes() == b"s3api body"
    lst = json.loads(ok(node.aws("s3api", "list-objects-v2", "--bucket", cli_bucket)))
    assert [o["Key"] for o in lst["Contents"]] == ["api.txt"]


def test_cli_s3api_error_exit_code_and_message(node, cli_bucket):
    rc, out, err = node.aws("s3api", "get-object", "--bucket", cli_bucket, "--key", "missing", os.devnull)
    assert rc != 0
    assert "NoSuchKey" in err


def test_cli_as_bob_cannot_read_admin_bucket(node, s3, cli_bucket):
    s3.put_object(Bucket=cli_bucket, Key="k", Body=b"x")
    rc, out, err = node.aws("s3", "ls", f"s3://{cli_bucket}/", principal="bob")
    assert rc != 0
    assert "AccessDenied" in err
