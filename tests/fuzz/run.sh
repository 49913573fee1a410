#!/bin/bash
# tests/fuzz/run.sh [TARGET] [SECONDS] - fuzz with libFuzzer (ASan+UBSan)
# for SECONDS (default 300). TARGET (default decode):
#   decode  libconsort-dicom's data set parser and pixel decoders
#           (fuzz_decode.c);
#   scp     the SCP's PDU/association reader and DIMSE handling over
#           loopback (fuzz_scp.c);
#   find    the node's C-FIND matcher: query parser and index SQL, with a
#           differential check against a reference matcher (fuzz_find.c).
#
#  1. configures build-fuzz/ (CONSORT_FUZZ_BUILD overrides) with clang and
#     -DCONSORT_FUZZ=ON, builds fuzz_TARGET;
#  2. seeds. decode: pydicom's test_files, charset_files and palettes
#     (*.dcm), a few synthetic files (tests/gen/gen_synthetic.py --small,
#     some codecs from tests/gen/encode_variants.sh; cached) and tiny
#     hand-made ones (make_seeds.py). scp: sessions of DCMTK's echoscu,
#     storescu, findscu, getscu and movescu with consort-node, recorded by
#     record_sessions.py. find: identifiers from make_find_seeds.py;
#  3. runs libFuzzer in fork mode with one worker: unlike -jobs=1, it keeps
#     fuzzing after a crash, leak, OOM or timeout, so one shallow bug does
#     not end the run (CONSORT_FUZZ_FORK=0: one plain process that stops at
#     the first finding). The corpus persists in build-fuzz/fuzz/corpus*;
#     findings go to tests/fuzz/crashes-new/ (TARGET-crash-*, -leak-*,
#     -oom-*, -timeout-*);
#  4. prints executions, time and the sanitizer summaries of the findings.
#
# Reproduce a finding:  build-fuzz/tests/fuzz/fuzz_TARGET -timeout=10 FILE
#                       (tests/fuzz/regress/: known findings, see README)
# Minimise it:          build-fuzz/tests/fuzz/fuzz_TARGET -minimize_crash=1 \
#                           -runs=10000 -exact_artifact_path=OUT FILE
set -euo pipefail

TARGET=decode
case ${1:-} in
    decode|scp|find) TARGET=$1; shift ;;
esac
SECS=${1:-300}
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -eq 0 ]; then
    echo "usage: $0 [decode|scp|find] [SECONDS]   (default decode 300)" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${CONSORT_FUZZ_BUILD:-$ROOT/build-fuzz}
WORK=$BUILD/fuzz
CRASHES=$HERE/crashes-new
PYDICOM_DATA=/usr/lib/python3/dist-packages/pydicom/data
case $TARGET in
    decode) MAX_LEN=1048576; CORPUS=$WORK/corpus ;;
    scp) MAX_LEN=327680; CORPUS=$WORK/corpus-scp ;;
    find) MAX_LEN=16384; CORPUS=$WORK/corpus-find ;;
esac
FORK=${CONSORT_FUZZ_FORK:-1}

for tool in clang clang++ cmake; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

# --- 1. build ---------------------------------------------------------------
echo "== build ($BUILD)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCONSORT_FUZZ=ON >"$BUILD.configure.log" 2>&1 ||
    { cat "$BUILD.configure.log" >&2; exit 1; }
TARGETS=(fuzz_$TARGET)
[ "$TARGET" = scp ] && TARGETS+=(consort-node) # records the seeds
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "$(nproc)" >"$BUILD.build.log" 2>&1 ||
    { tail -n 40 "$BUILD.build.log" >&2; exit 1; }
FUZZER=$BUILD/tests/fuzz/fuzz_$TARGET
[ -x "$FUZZER" ] || { echo "no $FUZZER" >&2; exit 1; }

# --- 2. seeds ---------------------------------------------------------------
mkdir -p "$CORPUS" "$CRASHES"
rm -rf "$WORK/seeds"
mkdir -p "$WORK/seeds"
add_seed() { # FILE NAME: copy if smaller than MAX_LEN
    local size
    size=$(stat -c %s "$1")
    if [ "$size" -gt 0 ] && [ "$size" -le "$MAX_LEN" ]; then
        cp "$1" "$WORK/seeds/$2"
    fi
}
seeds_decode() {
    for sub in test_files charset_files palettes; do
        for f in "$PYDICOM_DATA/$sub"/*.dcm; do
            [ -f "$f" ] && add_seed "$f" "pydicom_${sub}_$(basename "$f")"
        done
    done

    SYN=$WORK/synthetic
    if [ ! -f "$SYN/.done" ]; then
        echo "== synthetic seeds ($SYN)"
        rm -rf "$SYN"
        if /usr/bin/python3 "$ROOT/tests/gen/gen_synthetic.py" "$SYN" --small \
            >"$WORK/synthetic.log" 2>&1; then
            bash "$ROOT/tests/gen/encode_variants.sh" "$SYN" >>"$WORK/synthetic.log" 2>&1 ||
                echo "   encode_variants.sh failed (see $WORK/synthetic.log); uncompressed only"
            touch "$SYN/.done"
        else
            echo "   gen_synthetic.py failed (see $WORK/synthetic.log); pydicom seeds only"
        fi
    fi
    if [ -d "$SYN" ]; then
        # A few representative ones: the pydicom files already cover each codec
        # with small images, and big seeds slow every execution down.
        for f in "$SYN"/ct/ct_0001.dcm "$SYN"/us_ybr/us_ybr_0001.dcm \
            "$SYN"/enc/ct/{dcmtk_jpeg_sv1,dcmtk_jpeg_extended,dcmtk_rle,gdcm_rle,gdcm_jpegls_near3,gdcm_j2k,gdcm_j2k_lossy_r10,deflate,big_endian}/ct_0001.dcm \
            "$SYN"/enc/dr/{dcmtk_jpegls,dcmtk_jpeg_p14_sv7}/dr_0001.dcm \
            "$SYN"/enc/us/{dcmtk_jpeg_baseline,gdcm_j2k_lossy_r10}/us_0001.dcm; do
            [ -f "$f" ] || continue
            rel=${f#"$SYN"/}
            add_seed "$f" "synthetic_${rel//\//_}"
        done
    fi
    # Tiny hand-made seeds for paths the files above miss (palette, LUTs, 1-bit,
    # offset tables, fragmented frames): make_seeds.py, cached.
    MADE=$WORK/made
    if [ ! -f "$MADE/.done" ]; then
        rm -rf "$MADE"
        if /usr/bin/python3 "$HERE/make_seeds.py" "$MADE" >"$WORK/made.log" 2>&1; then
            touch "$MADE/.done"
        else
            echo "   make_seeds.py failed (see $WORK/made.log)"
        fi
    fi
    for f in "$MADE"/*.dcm; do
        [ -f "$f" ] && add_seed "$f" "made_$(basename "$f")"
    done
}

seeds_scp() {
    local rec=$WORK/sessions
    if [ ! -f "$rec/.done" ]; then
        rm -rf "$rec"
        /usr/bin/python3 "$HERE/record_sessions.py" "$BUILD/dicom/consort-node" \
            "$rec" "${CONSORT_FUZZ_RECORD_PORT:-11390}" >"$WORK/sessions.log" 2>&1 &&
            touch "$rec/.done" ||
            echo "   record_sessions.py failed (see $WORK/sessions.log)"
    fi
    for f in "$rec"/*.bin; do
        [ -f "$f" ] && add_seed "$f" "session_$(basename "$f")"
    done
    # hostile openings: a PDU claiming 4 GB, P-DATA before any association
    printf '\x01\x00\xff\xff\xff\xff' >"$WORK/seeds/huge-pdu.bin"
    printf '\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x01\x03' >"$WORK/seeds/pdata-first.bin"
}

seeds_find() {
    /usr/bin/python3 "$HERE/make_find_seeds.py" "$WORK/seeds" >"$WORK/find-seeds.log" 2>&1 ||
        echo "   make_find_seeds.py failed (see $WORK/find-seeds.log)"
}

"seeds_$TARGET"
echo "== seeds: $(find "$WORK/seeds" -type f | wc -l) files," \
     "$(du -sh "$WORK/seeds" | cut -f1); corpus: $(find "$CORPUS" -type f | wc -l) files"

# --- 3. fuzz ----------------------------------------------------------------
# A declared element length makes DCMTK allocate that much before reading
# (up to 4 GiB; see the report of the first run): refuse allocations over
# 1 GiB with NULL, as a loaded production host would, instead of stopping
# on them. Code that does not check for NULL still crashes.
ASAN_OPTS="detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=1024"
ASAN_OPTS="$ASAN_OPTS:handle_abort=1:symbolize=1"
LSAN_OPTS="print_suppressions=0"
if [ -f "$HERE/lsan.supp" ]; then
    LSAN_OPTS="$LSAN_OPTS:suppressions=$HERE/lsan.supp"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-$ASAN_OPTS}
export LSAN_OPTIONS=${LSAN_OPTIONS:-$LSAN_OPTS}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1}

MODE=()
if [ "$FORK" = 1 ]; then
    MODE=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
fi
LOG=$WORK/fuzz-$TARGET.log
TIMEOUT=20
[ "$TARGET" = scp ] && TIMEOUT=40 # its own hang check fires at 15 s
STAMP=$WORK/run.stamp
touch "$STAMP"
echo "== fuzz ${SECS}s (log $LOG)"
T0=$SECONDS
set +e
"$FUZZER" "${MODE[@]}" \
    -max_total_time="$SECS" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len="$MAX_LEN" -timeout="$TIMEOUT" -print_final_stats=1 \
    -dict="$HERE/dicom.dict" -artifact_prefix="$CRASHES/$TARGET-" \
    "$CORPUS" "$WORK/seeds" >"$LOG" 2>&1
status=$?
set -e
elapsed=$((SECONDS - T0))

# --- 4. report --------------------------------------------------------------
if [ "$FORK" = 1 ]; then
    # The fork-mode parent adds up its jobs' stat::number_of_executed_units
    # and prints the sum as "#N: cov: ..." lines; the last one is final.
    execs=$(grep -E '^#[0-9]+: cov:' "$LOG" | tail -n 1 | sed -E 's/^#([0-9]+):.*/\1/')
else
    execs=$(grep -E '^stat::number_of_executed_units:' "$LOG" | tail -n 1 | awk '{print $2}')
fi
execs=${execs:-0}
mapfile -t NEW < <(find "$CRASHES" -maxdepth 1 -type f -name "$TARGET-*" -newer "$STAMP" | sort)
echo "== done: libFuzzer exit status $status"
grep -E '^#[0-9]+:? .*(cov|corp)' "$LOG" | tail -n 1 || true
echo "executions: $execs"
echo "time: ${elapsed} s (limit ${SECS} s)"
if [ "$elapsed" -gt 0 ]; then
    echo "exec/s: $((execs / elapsed))"
fi
echo "corpus: $(find "$CORPUS" -type f | wc -l) files"
echo "new findings: ${#NEW[@]} file(s) in $CRASHES"
# Fork mode keeps its jobs' logs to itself: replay each finding for its
# sanitizer summary and the first frame in our code.
n=0
for f in "${NEW[@]}"; do
    n=$((n + 1))
    if [ "$n" -gt 40 ]; then
        echo "  ... (only the first 40 replayed)"
        break
    fi
    out=$("$FUZZER" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 \
        "$f" 2>&1 || true)
    what=$(grep -m1 -E 'SUMMARY: |fuzz_[a-z]+: (contract|differential|hang)|runtime error:' <<<"$out" || true)
    where=$(grep -m1 -E "^ +#[0-9]+ .* in .*$ROOT/dicom/" <<<"$out" |
        sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //' || true)
    echo "  $(basename "$f") ($(stat -c %s "$f") bytes)"
    echo "      ${what:-(does not reproduce alone)}"
    [ -n "$where" ] && echo "      first frame in dicom/: $where"
done
if [ "${#NEW[@]}" -gt 0 ]; then
    exit 1
fi
exit 0
