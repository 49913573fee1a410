#!/bin/bash
# Re-encode the uncompressed synthetic series made by gen_synthetic.py with
# REAL third-party encoders (DCMTK dcmcjpeg/dcmcjpls/dcmcrle/dcmconv and GDCM
# gdcmconv), so Consort's decoders can be tested against foreign bitstreams.
#
# Usage: encode_variants.sh OUTDIR
#   reads  OUTDIR/{ct,dr,us}/*.dcm   (CT: first 4 slices only)
#   writes OUTDIR/enc/<series>/<codec>/<same file name>
#          OUTDIR/enc/manifest.tsv   path series codec transfer_syntax_uid lossless max_error
#          (path relative to OUTDIR; max_error: 0 lossless, NEAR for near-lossless,
#           -1 for lossy = codec-dependent tolerance)
# An encoder refusal is tolerated only where it is listed as expected (may_refuse=1);
# any other failure, or an unexpected output transfer syntax, exits non-zero.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 OUTDIR  (folder produced by gen_synthetic.py)" >&2
    exit 2
fi
OUT=$(cd "$1" && pwd)
ENC="$OUT/enc"
MANIFEST="$ENC/manifest.tsv"
for tool in dcmcjpeg dcmcjpls dcmcrle dcmconv dcmdump gdcmconv; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

rm -rf "$ENC"
mkdir -p "$ENC"
printf 'path\tseries\tcodec\ttransfer_syntax_uid\tlossless\tmax_error\n' > "$MANIFEST"
ERRLOG=$(mktemp)
trap 'rm -f "$ERRLOG"' EXIT
N_OK=0
N_REFUSED=0

ts_of() {  # transfer syntax UID of a Part-10 file
    dcmdump -q -Un -M +P 0002,0010 "$1" | sed -n 's/.*\[\(.*\)\].*/\1/p' | head -n1
}

# encode SERIES CODEC EXPECTED_TS(|-separated) LOSSLESS MAX_ERR MAY_REFUSE -- CMD...
# CMD gets the input and output file appended.
encode() {
    local series=$1 codec=$2 expect=$3 lossless=$4 maxerr=$5 may_refuse=$6
    shift 7
    local dir="$ENC/$series/$codec" f out ts
    mkdir -p "$dir"
    for f in "${INPUTS[@]}"; do
        out="$dir/$(basename "$f")"
        if ! "$@" "$f" "$out" >"$ERRLOG" 2>&1; then
            if [ "$may_refuse" = 1 ]; then
                echo "  REFUSED (expected) $series/$codec: $* -- $(grep -v '^$' "$ERRLOG" | tail -n2 | paste -sd'|')"
                rm -rf "$dir"
                N_REFUSED=$((N_REFUSED + 1))
                return 0
            fi
            echo "ERROR: $series/$codec failed: $* $f $out" >&2
            cat "$ERRLOG" >&2
            exit 1
        fi
        ts=$(ts_of "$out")
        if [[ "|$expect|" != *"|$ts|"* ]]; then
            echo "ERROR: $series/$codec produced TS '$ts', expected '$expect'" >&2
            exit 1
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${out#"$OUT"/}" "$series" "$codec" "$ts" \
            "$lossless" "$maxerr" >> "$MANIFEST"
        N_OK=$((N_OK + 1))
    done
    printf '  %-6s %-22s %-24s %s\n' "$series" "$codec" "$ts" "$*"
}

skip() {
    echo "  SKIP   $1/$2: $3"
}

T0=$SECONDS
for series in ct dr us; do
    mapfile -t INPUTS < <(find "$OUT/$series" -maxdepth 1 -name '*.dcm' | sort | head -n 4)
    [ ${#INPUTS[@]} -gt 0 ] || { echo "no input files in $OUT/$series" >&2; exit 1; }
    bits=$(dcmdump -q -M +P 0028,0101 "${INPUTS[0]}" | awk '{print $3; exit}')
    signed=$(dcmdump -q -M +P 0028,0103 "${INPUTS[0]}" | awk '{print $3; exit}')
    echo "$series: ${#INPUTS[@]} file(s), BitsStored $bits, PixelRepresentation $signed"

    # --- DCMTK JPEG (IJG-based) ---
    encode "$series" dcmtk_jpeg_sv1 1.2.840.10008.1.2.4.70 1 0 0 -- dcmcjpeg -q +e1
    for sv in 2 3 4 5 6 7; do
        encode "$series" dcmtk_jpeg_p14_sv$sv 1.2.840.10008.1.2.4.57 1 0 0 -- \
            dcmcjpeg -q +el +sv $sv
    done
    if [ "$bits" -le 8 ]; then
        encode "$series" dcmtk_jpeg_baseline 1.2.840.10008.1.2.4.50 0 -1 0 -- dcmcjpeg -q +eb
    else
        # dcmcjpeg does not refuse: it would window/rescale the data down to 8 bits.
        skip "$series" dcmtk_jpeg_baseline "BitsStored $bits > 8 (dcmcjpeg would rescale to 8 bit)"
    fi
    # Extended (process 2+4): 12-bit DR and 8-bit US as-is; for 16-bit CT dcmcjpeg
    # rescales to 12 bits and rewrites RescaleSlope/Intercept (compare in modality units).
    encode "$series" dcmtk_jpeg_extended 1.2.840.10008.1.2.4.51 0 -1 0 -- dcmcjpeg -q +ee

    # --- DCMTK JPEG-LS (CharLS-based) and RLE ---
    encode "$series" dcmtk_jpegls 1.2.840.10008.1.2.4.80 1 0 0 -- dcmcjpls -q +el
    # dcmcjpls refuses near-lossless for signed data ("Unsupported pixel representation").
    encode "$series" dcmtk_jpegls_near2 1.2.840.10008.1.2.4.81 0 2 "$signed" -- \
        dcmcjpls -q +en +md 2
    encode "$series" dcmtk_rle 1.2.840.10008.1.2.5 1 0 0 -- dcmcrle -q

    # --- GDCM (OpenJPEG, CharLS, IJG, own RLE) ---
    encode "$series" gdcm_j2k 1.2.840.10008.1.2.4.90 1 0 0 -- gdcmconv --quiet --j2k
    encode "$series" gdcm_j2k_lossy_r10 1.2.840.10008.1.2.4.91 0 -1 0 -- \
        gdcmconv --quiet --j2k --lossy -r 10
    encode "$series" gdcm_jpegls 1.2.840.10008.1.2.4.80 1 0 0 -- gdcmconv --quiet --jpegls
    encode "$series" gdcm_jpegls_near3 1.2.840.10008.1.2.4.81 0 3 0 -- \
        gdcmconv --quiet --jpegls --lossy -e 3
    encode "$series" gdcm_rle 1.2.840.10008.1.2.5 1 0 0 -- gdcmconv --quiet --rle
    encode "$series" gdcm_jpeg 1.2.840.10008.1.2.4.70 1 0 0 -- gdcmconv --quiet --jpeg
    # Lossy IJG via GDCM, only where the output is sound:
    #  - 8-bit: baseline. For RGB input GDCM keeps PhotometricInterpretation RGB but the
    #    stream is YCbCr 4:2:0 (ids 1,2,3, no JFIF/Adobe marker) -> codec name says so.
    #  - 12-bit: GDCM writes SOF1 with precision 16 (invalid; dcmdjpeg refuses it,
    #    gdcmconv --raw wraps saturated pixels to ~0) -> skipped.
    #  - 16-bit: refused ("DCT coefficient out of range").
    if [ "$bits" -le 8 ]; then
        spp=$(dcmdump -q -M +P 0028,0002 "${INPUTS[0]}" | awk '{print $3; exit}')
        encode "$series" "gdcm_jpeg_lossy_q90$([ "$spp" = 3 ] && echo _ycbcr_as_rgb)" \
            1.2.840.10008.1.2.4.50 0 -1 0 -- gdcmconv --quiet --jpeg --lossy -q 90
    elif [ "$bits" -le 12 ]; then
        skip "$series" gdcm_jpeg_lossy_q90 "gdcmconv writes an invalid SOF1 with precision 16"
    else
        encode "$series" gdcm_jpeg_lossy_q90 1.2.840.10008.1.2.4.51 0 -1 1 -- \
            gdcmconv --quiet --jpeg --lossy -q 90
    fi

    # --- Non-compressed transfer syntaxes ---
    encode "$series" deflate 1.2.840.10008.1.2.1.99 1 0 0 -- dcmconv -q +td
    encode "$series" big_endian 1.2.840.10008.1.2.2 1 0 0 -- dcmconv -q +tb
done

n_files=$(find "$ENC" -name '*.dcm' | wc -l)
size=$(du -sh "$ENC" | cut -f1)
echo "done: $N_OK files ($n_files on disk, $size), $N_REFUSED expected refusal(s), $((SECONDS - T0)) s"
echo "manifest: $MANIFEST"
