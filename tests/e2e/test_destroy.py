"""`tandem destroy APP --delete-data`: the one command that deletes an app's
data — every version of its buckets, the buckets and its tables, in every
region — and only when --delete-data confirms it."""

from __future__ import annotations

from regions import RegionPair, wait_until

US, TOKYO = "us-east", "ap-tokyo"
APP = {
    "id": "gone",
    "primary": US,
    "secondary": TOKYO,
    "buckets": [{"primary": "gone-us-east", "secondary": "gone-ap-tokyo"}],
    "tables": [{"name": "gone_notes", "hash_key": "id:S"}],
}


def test_destroy_needs_confirmation_then_deletes_everything(tandem_bin, tmp_path):
    pair = RegionPair(tandem_bin, tmp_path)
    pair.configure_apps([APP])
    try:
        pair.start()
        applied = pair.tandem("apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        us = pair.s3(US)
        for i in range(3):
            us.put_object(Bucket="gone-us-east", Key=f"k{i}", Body=b"x" * (i + 1))
        us.delete_object(Bucket="gone-us-east", Key="k0")
        pair.ddb(US).put_item(TableName="gone_notes", Item={"id": {"S": "a"}})
        wait_until(lambda: pair.s3(TOKYO).list_objects_v2(Bucket="gone-ap-tokyo").get("KeyCount") == 2, what="replicas")

        refused = pair.tandem("destroy", "gone")
        assert refused.returncode != 0 and "--delete-data" in refused.stderr, refused.stderr
        assert "gone-us-east" in {b["Name"] for b in us.list_buckets()["Buckets"]}

        done = pair.tandem("destroy", "gone", "--delete-data")
        assert done.returncode == 0, done.stdout + done.stderr
        for region in (US, TOKYO):
            names = {b["Name"] for b in pair.s3(region).list_buckets()["Buckets"]}
            assert not names & {"gone-us-east", "gone-ap-tokyo"}, (region, names)
            assert "gone_notes" not in pair.ddb(region).list_tables()["TableNames"], region
    finally:
        pair.close()
