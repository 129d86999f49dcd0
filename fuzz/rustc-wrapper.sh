#!/usr/bin/env bash
# rustc wrapper of the fuzz build (scripts/fuzz.sh): adds libFuzzer's coverage
# instrumentation only to the crates the targets are about (tandem's own, s3s,
# quick-xml and serde_json: the parsers), not to tokio, redb, hyper and the
# rest. Fewer counters make each run cheaper and the build shorter. Only crates
# built for the target get it: build scripts and proc macros stay plain.
rustc="$1"
shift
name=""
target=0
prev=""
for arg in "$@"; do
    [[ $prev == --crate-name ]] && name=$arg
    [[ $arg == --target ]] && target=1
    prev=$arg
done
if [[ $target -eq 1 ]]; then
    case "$name" in
        tandem_*|s3s|quick_xml|serde_json)
            exec "$rustc" "$@" -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
                -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
                -Cllvm-args=-sanitizer-coverage-trace-compares ;;
    esac
fi
exec "$rustc" "$@"
