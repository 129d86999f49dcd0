#!/usr/bin/env bash
# Builds tandem's fuzz targets (fuzz/, libFuzzer on stable Rust: coverage
# instrumentation without a sanitizer, as cargo-fuzz does with `-s none`) and
# runs each one: first the committed crash reproducers (fuzz/regressions/), then
# the fuzzer from the committed seeds (fuzz/seeds/). Prints inputs run,
# speed, coverage and crashes per target; exits 1 if any target crashed.
#
#   bash scripts/fuzz.sh                      # every target, 1,000,000 inputs each
#   bash scripts/fuzz.sh --smoke              # CI: 20,000 inputs or 15 s per target
#   bash scripts/fuzz.sh --runs 5000000 --time 3600 expr_update sigv4
#   bash scripts/fuzz.sh --list
#
# The campaign corpus grows in fuzz/corpus/<target> (not committed); a smoke run
# starts from the seeds in a scratch directory. Crashes land in
# fuzz/artifacts/<target>/. fuzz/artifacts/summary.tsv holds the last table.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
max_time=0
smoke=0
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) smoke=1; runs=20000; max_time=15 ;;
        --runs) runs="$2"; shift ;;
        --time) max_time="$2"; shift ;;
        --list) sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^tandem-fuzz$'; exit 0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1") ;;
    esac
    shift
done
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^tandem-fuzz$')
fi

host=$(rustc -vV | sed -n 's/^host: //p')
# cargo-fuzz's flags with `--sanitizer none`, added by fuzz/rustc-wrapper.sh to
# the parser crates only; `--target` keeps build scripts and proc macros plain.
export RUSTFLAGS="--cfg fuzzing"
export RUSTC_WRAPPER="$PWD/fuzz/rustc-wrapper.sh"
export CARGO_TARGET_DIR="$PWD/fuzz/target"
echo "==> building ${#targets[@]} fuzz targets"
start=$(date +%s)
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --manifest-path fuzz/Cargo.toml --target "$host" "${bins[@]}"
echo "    built in $(( $(date +%s) - start )) s"
bindir="$CARGO_TARGET_DIR/$host/release"

mkdir -p fuzz/artifacts
summary=fuzz/artifacts/summary.tsv
printf 'target\tinputs\texec_per_s\tcov\tft\tcorpus\tcrashes\tseconds\n' >"$summary"
failed=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for t in "${targets[@]}"; do
    bin="$bindir/$t"
    log="fuzz/artifacts/$t.log"
    artifacts="fuzz/artifacts/$t"
    mkdir -p "$artifacts"
    crashes=0
    # Every committed reproducer must pass (it was fixed) before fuzzing.
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
        if ! "$bin" -runs=1 fuzz/regressions/"$t"/* >"$scratch/$t.regressions" 2>&1; then
            echo "!! $t: a committed regression input fails again:" >&2
            tail -30 "$scratch/$t.regressions" >&2
            crashes=$((crashes + 1))
        fi
    fi
    if [[ $smoke -eq 1 ]]; then
        corpus="$scratch/corpus-$t"
    else
        corpus="fuzz/corpus/$t"
    fi
    mkdir -p "$corpus"
    limits=(-runs="$runs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1)
    [[ $max_time -gt 0 ]] && limits+=(-max_total_time="$max_time")
    t0=$(date +%s)
    status=0
    "$bin" "${limits[@]}" -artifact_prefix="$artifacts/" "$corpus" "fuzz/seeds/$t" >"$log" 2>&1 || status=$?
    seconds=$(( $(date +%s) - t0 ))
    inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # libFuzzer divides by whole seconds; a run under a second reports 0.
    [[ ${speed:-0} -eq 0 && $seconds -gt 0 ]] && speed=$(( ${inputs:-0} / seconds ))
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    if [[ $status -ne 0 ]]; then
        crashes=$((crashes + 1))
        echo "!! $t crashed (exit $status); input in $artifacts/, log $log:" >&2
        grep -E 'panicked|ERROR: libFuzzer|Test unit written|Base64' "$log" | head -8 >&2 || true
    fi
    [[ $crashes -gt 0 ]] && failed=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${inputs:-0}" "${speed:-0}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$seconds" >>"$summary"
done

echo "==> fuzz results"
column -t -s $'\t' "$summary"
total=$(awk -F'\t' 'NR > 1 { n += $2 } END { print n + 0 }' "$summary")
echo "    $total inputs in $(( $(date +%s) - start )) s"
if [[ $failed -ne 0 ]]; then
    echo "FAILED: some fuzz target crashed (see above)" >&2
    exit 1
fi
