# Sourced by scripts/test.sh (or by hand before running tests on the
# PostgreSQL backend): installs PostgreSQL from Debian's packages when it is
# missing, starts a throw-away cluster with initdb and pg_ctl in a temporary
# directory, on a free loopback port with trust authentication, stops it when
# the shell exits, and exports its URL as TANDEM_TEST_POSTGRES.
#
# Tests create a database of their own in it for every store they open.

tandem_pg_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
}

if [ -z "$(tandem_pg_bindir)" ]; then
    echo "==> installing PostgreSQL (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

tandem_pg_start() {
    local bin dir port run
    bin="$(tandem_pg_bindir)"
    dir="$(mktemp -d /tmp/tandem-pg.XXXXXX)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # initdb refuses to run as root: the cluster then belongs to the postgres user.
    run=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        run=(runuser -u postgres --)
    fi
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log"; return 1; }
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c fsync=on -c synchronous_commit=on" \
        start >/dev/null || { cat "$dir/server.log"; return 1; }
    export TANDEM_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
    export TANDEM_PG_DIR="$dir"
    TANDEM_PG_STOP="$(printf '%q ' "${run[@]}") $bin/pg_ctl -D $dir/data -m fast stop >/dev/null 2>&1; rm -rf $dir"
    trap 'eval "$TANDEM_PG_STOP"' EXIT
    echo "==> throw-away PostgreSQL cluster at $TANDEM_TEST_POSTGRES"
}

tandem_pg_start
