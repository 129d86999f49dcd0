# Sourced by scripts/test.sh: installs rclone and s3cmd from Debian when
# missing (tests/e2e/test_s3_clients.py drives them with their default settings).
if ! command -v rclone >/dev/null 2>&1 || ! command -v s3cmd >/dev/null 2>&1; then
    echo "==> installing rclone and s3cmd"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone s3cmd >/dev/null
fi
