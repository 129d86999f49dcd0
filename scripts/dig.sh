# Sourced by scripts/test.sh: installs dig (bind9-dnsutils), which the DNS
# end-to-end tests (tests/e2e/test_dns.py) query `tandem dns` with, when it is missing.
if ! command -v dig >/dev/null 2>&1; then
    echo "==> installing dig (bind9-dnsutils)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9-dnsutils >/dev/null
fi
