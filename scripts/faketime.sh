# Sourced by scripts/test.sh and scripts/fault_report.sh: installs libfaketime
# (the clock-skew fault scenarios run region processes with a shifted wall clock)
# when it is missing.
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
    echo "==> installing libfaketime"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
fi
