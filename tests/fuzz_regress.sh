#!/usr/bin/env bash
# Inputs the fuzzer found (tests/fuzz/regress/*.dcm) must be refused by
# consort-node decode with exit status 1 and one line on stderr: no crash,
# no hang (each run bounded by timeout), no output file left behind.
# usage: fuzz_regress.sh CONSORT_NODE REGRESS_DIR
set -u
node=$1; dir=$2; out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# the two inputs too large to keep in regress/ are written by a script
mkdir -p "$out/gen"
/usr/bin/python3 "$dir/gen_tem_bypass.py" "$out/gen" >/dev/null ||
    { echo "FAILED  gen_tem_bypass.py"; exit 1; }
pass=0; fail=0
for f in "$dir"/*.dcm "$out"/gen/*.dcm; do
    timeout 20 "$node" decode --rgb "$f" -o "$out/o.raw" 2>"$out/err" >/dev/null
    rc=$?
    lines=$(wc -l <"$out/err")
    if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -e "$out/o.raw" ]; then
        pass=$((pass + 1)); echo "ok      $(basename "$f"): $(cat "$out/err")"
    else
        fail=$((fail + 1)); echo "FAILED  $(basename "$f"): rc=$rc, $lines stderr lines"
    fi
    rm -f "$out/o.raw"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
