#!/usr/bin/env bash
# The compiled-in data dictionary (dicom/src/dcmtk/mkdict.cc) must give what
# DCMTK's text dictionary gives: every pydicom file is re-saved with explicit
# VR once with the built-in table (DCMDICTPATH unset) and once with DCMTK
# loading the text files (DCMDICTPATH = its default path); the outputs, and
# any refusals, must be identical.
# usage: dictionary.sh RESAVE PYDICOM_DATA DEFAULT_DICT_PATH
set -u
resave=$1; data=$2; textdict=$3; out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# the dataset after the file meta (its generated UIDs may differ)
body() {
    local gl
    gl=$(od -An -tu4 -j140 -N4 "$1" | tr -d ' ')
    tail -c +$((145 + gl)) "$1"
}
same=0; refused=0; diff=0; implicit=0
while IFS= read -r -d '' f; do
    ts=$(env -u DCMDICTPATH "$resave" "$f" "$out/a.dcm" 2>"$out/a.err"); ra=$?
    DCMDICTPATH=$textdict "$resave" "$f" "$out/b.dcm" >/dev/null 2>"$out/b.err"; rb=$?
    if [ $ra -ne $rb ] || ! cmp -s "$out/a.err" "$out/b.err"; then
        diff=$((diff + 1)); echo "DIFFERENT result: $f ($ra vs $rb)"
    elif [ $ra -ne 0 ]; then
        refused=$((refused + 1))
    elif cmp -s <(body "$out/a.dcm") <(body "$out/b.dcm"); then
        same=$((same + 1))
        # files whose VRs all came from the dictionary
        [ "$ts" = 1.2.840.10008.1.2 ] && implicit=$((implicit + 1))
    else
        diff=$((diff + 1)); echo "DIFFERENT bytes: $f"
    fi
    rm -f "$out/a.dcm" "$out/b.dcm"
done < <(find "$data" -name '*.dcm' -print0 | sort -z)
echo "$same identical ($implicit implicit VR), $refused refused alike, $diff different"
[ $diff -eq 0 ] && [ $same -gt 50 ] && [ $implicit -gt 5 ]
