#!/usr/bin/env bash
# Checks that the console's vendored chart library
# (crates/console/assets/vendor/) is exactly the published npm package it
# names: the tarball is fetched from the npm registry, checked against the
# integrity pinned here, and its files compared with the vendored ones.
# `--update` copies them in instead (after changing VERSION and INTEGRITY).
# Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.6.32
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
VENDOR=crates/console/assets/vendor
FILES=(dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "uplot@$VERSION" --silent >/dev/null)
tarball="$work/uplot-$VERSION.tgz"
actual=$(python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [ "$actual" != "$INTEGRITY" ]; then
    echo "uplot-$VERSION.tgz is not the pinned package (integrity $actual)" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
for file in "${FILES[@]}"; do
    name=$(basename "$file")
    [ "$name" = LICENSE ] && name=LICENSE-uPlot
    if [ "${1:-}" = --update ]; then
        cp "$work/package/$file" "$VENDOR/$name"
    elif ! cmp -s "$work/package/$file" "$VENDOR/$name"; then
        echo "$VENDOR/$name differs from uplot@$VERSION's $file: run scripts/console_vendor.sh --update" >&2
        exit 1
    fi
done
echo "console vendor files match uplot@$VERSION"
