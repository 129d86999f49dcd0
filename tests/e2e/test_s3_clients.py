"""Real S3 tools with their default settings: rclone (sync, check, copy, a multipart
upload) and s3cmd (mb, put, ls, get, sync, multipart, del) round-trip data through a
node. Installed from Debian by scripts/s3_clients.sh; skipped where missing.

s3cmd's default configuration signs with the region `US`. The node answers that
with 400 `AuthorizationHeaderMalformed` naming its signing region, which s3cmd
follows (`test_s3cmd_with_its_default_region_us`); the other s3cmd tests set
`bucket_location = us-east-1`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e_helpers import KEYS, random_bytes, unique_bucket

MIB = 1024 * 1024
FILES = {
    "a.txt": b"alpha\n",
    "dir/b c.bin": random_bytes(70_000, seed=3),
    "dir/sub/ünï.txt": "ünïcode body".encode(),
    "big.bin": random_bytes(6 * MIB, seed=4),
    "empty": b"",
}


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def local(tmp_path) -> Path:
    root = tmp_path / "src"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# ---------------------------------------------------------------- rclone


def rclone(node, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    k = KEYS["admin"]
    # The machine's AWS settings (a CA bundle, a profile) are not rclone's defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_CONFIG_T_TYPE": "s3",
        "RCLONE_CONFIG_T_PROVIDER": "Other",
        "RCLONE_CONFIG_T_ACCESS_KEY_ID": k.access_key_id,
        "RCLONE_CONFIG_T_SECRET_ACCESS_KEY": k.secret_access_key,
        "RCLONE_CONFIG_T_ENDPOINT": node.endpoint,
    }
    return subprocess.run(["rclone", *args], env=env, capture_output=True, text=True, timeout=timeout)


needs_rclone = pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not installed (scripts/s3_clients.sh)")
needs_s3cmd = pytest.mark.skipif(shutil.which("s3cmd") is None, reason="s3cmd not installed (scripts/s3_clients.sh)")


@needs_rclone
def test_rclone_sync_check_and_copy_round_trip(node, s3, bucket, local, tmp_path):
    # --s3-upload-cutoff makes the 6 MiB file a multipart upload.
    r = rclone(node, "sync", str(local), f"t:{bucket}/tree", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
    assert r.returncode == 0, r.stderr
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {f"tree/{n}" for n in FILES}
    r = rclone(node, "check", str(local), f"t:{bucket}/tree")
    assert r.returncode == 0, r.stderr
    back = tmp_path / "back"
    r = rclone(node, "copy", f"t:{bucket}/tree", str(back))
    assert r.returncode == 0, r.stderr
    assert tree(back) == tree(local)
    # A changed and a deleted file are synced too.
    (local / "a.txt").write_bytes(b"changed\n")
    (local / "empty").unlink()
    r = rclone(node, "sync", str(local), f"t:{bucket}/tree")
    assert r.returncode == 0, r.stderr
    assert s3.get_object(Bucket=bucket, Key="tree/a.txt")["Body"].read() == b"changed\n"
    assert "tree/empty" not in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    r = rclone(node, "check", str(local), f"t:{bucket}/tree")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- s3cmd


def s3cmd_config(node, path: Path, bucket_location: str | None) -> Path:
    k = KEYS["admin"]
    lines = [
        "[default]",
        f"access_key = {k.access_key_id}",
        f"secret_key = {k.secret_access_key}",
        f"host_base = 127.0.0.1:{node.port}",
        f"host_bucket = 127.0.0.1:{node.port}",
        "use_https = False",
    ]
    if bucket_location:
        lines.append(f"bucket_location = {bucket_location}")
    path.write_text("\n".join(lines) + "\n")
    return path


def s3cmd(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["s3cmd", "-c", str(cfg), *args], capture_output=True, text=True, timeout=120)


@needs_s3cmd
def test_s3cmd_round_trips_files(node, s3, local, tmp_path):
    cfg = s3cmd_config(node, tmp_path / "s3cfg", "us-east-1")
    bucket = unique_bucket("s3cmd")
    r = s3cmd(cfg, "mb", f"s3://{bucket}")
    assert r.returncode == 0, r.stderr
    assert bucket in s3cmd(cfg, "ls").stdout
    r = s3cmd(cfg, "put", "--multipart-chunk-size-mb=5", str(local / "big.bin"), f"s3://{bucket}/big.bin")
    assert r.returncode == 0, r.stderr
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == FILES["big.bin"]
    r = s3cmd(cfg, "sync", str(local) + "/", f"s3://{bucket}/tree/")
    assert r.returncode == 0, r.stderr
    listed = s3cmd(cfg, "ls", "--recursive", f"s3://{bucket}/tree/")
    assert listed.returncode == 0 and "dir/b c.bin" in listed.stdout, listed.stderr
    back = tmp_path / "back"
    back.mkdir()
    r = s3cmd(cfg, "get", "--recursive", f"s3://{bucket}/tree/", str(back) + "/")
    assert r.returncode == 0, r.stderr
    assert tree(back) == tree(local)
    r = s3cmd(cfg, "del", "--recursive", "--force", f"s3://{bucket}/")
    assert r.returncode == 0, r.stderr
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3cmd(cfg, "rb", f"s3://{bucket}").returncode == 0


@needs_s3cmd
def test_s3cmd_with_its_default_region_us(node, tmp_path):
    cfg = s3cmd_config(node, tmp_path / "s3cfg-default", None)
    bucket = unique_bucket("s3cmd-us")
    r = s3cmd(cfg, "mb", f"s3://{bucket}")
    assert r.returncode == 0, r.stderr
