#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# image.sh - image service benchmarks (issue: images).  Uses the optimised
# build in build/ and its own stratusd on a free loopback port in a
# temporary directory.  Prints figures only; never passes or fails on time.
#
#   bench/image.sh [SIZE_MB]      (default 1024)
#
#  - upload (PUT /image/v2/images/{id}/file, curl -T) and download (GET
#    .../file, curl -o) of a SIZE_MB raw image of random data, in MiB/s and
#    as a share of `cp` of the same file on the same disk (second of two
#    runs; cp + fsync shown too, since an upload includes MD5 + SHA-512 of
#    the data and an fsync before it answers).  The MD5 and SHA-512 speeds
#    of this CPU (openssl dgst) are shown as the ceiling they set, and a
#    download to /dev/null as what stratusd serves without the client's
#    own writes.  (coreutils 9 cp copies with copy_file_range, in the
#    kernel: a copy through user space, as curl's, cannot match it.)
#  - stratusd's RSS idle and its peak during the upload and the download
#    (VmRSS sampled every 50 ms).
#  - image list with 1,000 images (created through the API, without data):
#    p50/p90 of 50 GET /image/v2/images?limit=1000 and of 50 of the default
#    page (limit 25).
#
# Only files this script made are flushed (sync FILE); nothing is dropped
# from the page cache.
set -euo pipefail
size=${1:-1024}
case $size in '' | *[!0-9]* | 0) echo "usage: bench/image.sh [SIZE_MB]" >&2; exit 2 ;; esac
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage

start_stratusd --log-level info # the default: one log line per request
bench_token
W=$ST_TMP/work
mkdir -p "$W"
echo "# $(bench_load); data in $ST_TMP ($(df -h --output=source "$ST_TMP" | tail -n 1))"

auth=(-H "X-Auth-Token: $ST_TOKEN")
json=(-H 'Content-Type: application/json')

# new_image NAME: creates a raw/bare image without data; prints its id.
new_image() {
    curl -sf "${auth[@]}" "${json[@]}" \
        -d "{\"name\": \"$1\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
        "$ST_URL/image/v2/images" | jq -r .id
}

# rate SECONDS: SIZE_MB / SECONDS
rate() { awk -v s="$1" -v m="$size" 'BEGIN {printf "%.0f", m / s}'; }
share() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", 100 * b / a}'; }

# elapsed CMD...: runs CMD (its output discarded), prints its wall time in seconds.
elapsed() {
    local t0=$EPOCHREALTIME
    "$@" >/dev/null
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}'
}

# ---- the file, and cp --------------------------------------------------
src=$W/src.raw
head -c "${size}M" /dev/urandom >"$src"
sync "$src"
cp "$src" "$W/cp1"
sync "$W/cp1"
rm -f "$W/cp1"
t_cp=$(elapsed cp "$src" "$W/cp2")
sync "$W/cp2"
rm -f "$W/cp2"
# shellcheck disable=SC2016 # expanded by the inner bash
t_cpsync=$(elapsed bash -c 'cp "$1" "$2" && sync "$2"' _ "$src" "$W/cp3")
rm -f "$W/cp3"
cp_rate=$(rate "$t_cp")
echo "cp of the file (second run, source in the page cache): $cp_rate MiB/s ($size MiB in ${t_cp} s)"
echo "cp + fsync of the copy: $(rate "$t_cpsync") MiB/s ($size MiB in ${t_cpsync} s)"
t_md5=$(elapsed openssl dgst -md5 "$src")
t_sha=$(elapsed openssl dgst -sha512 "$src")
echo "MD5 / SHA-512 alone (openssl dgst, file in the page cache): $(rate "$t_md5") / $(rate "$t_sha") MiB/s (both in one thread: at most $(awk -v a="$t_md5" -v b="$t_sha" -v m="$size" 'BEGIN {printf "%.0f", m / (a + b)}') MiB/s)"

# ---- upload and download -------------------------------------------------
pid=$ST_PID
idle=$(rss_kib "$pid")
echo "stratusd idle RSS: $(mib "$idle") MiB"

upload() { # ID -> prints seconds; fails unless 204
    local out
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X PUT "${auth[@]}" \
        -H 'Content-Type: application/octet-stream' -H 'Expect:' -T "$src" \
        "$ST_URL/image/v2/images/$1/file")
    [ "${out%% *}" = 204 ] || { echo "upload failed: HTTP ${out%% *}" >&2; return 1; }
    echo "${out#* }"
}
download() { # ID FILE -> prints seconds
    local out
    out=$(curl -s -o "$2" -w '%{http_code} %{time_total}' "${auth[@]}" \
        "$ST_URL/image/v2/images/$1/file")
    [ "${out%% *}" = 200 ] || { echo "download failed: HTTP ${out%% *}" >&2; return 1; }
    echo "${out#* }"
}

img1=$(new_image bench-upload-1)
img2=$(new_image bench-upload-2)
rss_peak_start "$pid" "$W/peak-up"
t_up1=$(upload "$img1")
t_up2=$(upload "$img2")
rss_peak_stop
peak_up=$(cat "$W/peak-up" 2>/dev/null || echo "$idle")
up_rate=$(rate "$t_up2")
echo "image upload (PUT .../file, ${size} MiB raw): $up_rate MiB/s = $(share "$cp_rate" "$up_rate")% of cp (second of 2 uploads; first $(rate "$t_up1") MiB/s; includes MD5 + SHA-512 and an fsync; target >= 80%)"
checksum=$(curl -s "${auth[@]}" "$ST_URL/image/v2/images/$img2" | jq -r .checksum)
[ "$checksum" = "$(md5sum <"$src" | cut -d' ' -f1)" ] || echo "# WARNING: the stored checksum is not the file's MD5"

rss_peak_start "$pid" "$W/peak-down"
t_dn1=$(download "$img2" "$W/down1")
rm -f "$W/down1"
t_dn2=$(download "$img2" "$W/down2")
t_null=$(download "$img2" /dev/null)
rss_peak_stop
peak_dn=$(cat "$W/peak-down" 2>/dev/null || echo "$idle")
cmp -s "$src" "$W/down2" || echo "# WARNING: the downloaded data differ from the uploaded file"
rm -f "$W/down2"
dn_rate=$(rate "$t_dn2")
echo "image download (GET .../file to a file): $dn_rate MiB/s = $(share "$cp_rate" "$dn_rate")% of cp (second of 2; first $(rate "$t_dn1") MiB/s; target >= 80%)"
echo "image download to /dev/null (what stratusd serves, without the client's writes): $(rate "$t_null") MiB/s"
echo "stratusd RSS peak during the uploads: $(mib "$peak_up") MiB = +$(mib $((peak_up - idle))) MiB over idle (sampled every 50 ms; target flat, < 20 MiB above idle)"
echo "stratusd RSS peak during the downloads: $(mib "$peak_dn") MiB = +$(mib $((peak_dn - idle))) MiB over idle"
for id in "$img1" "$img2"; do
    curl -s -o /dev/null -X DELETE "${auth[@]}" "$ST_URL/image/v2/images/$id"
done
rm -f "$src"

# ---- image list with 1,000 images ----------------------------------------
# Through the API, one curl process with keep-alive (Glance has no bulk
# create): 1,000 POST /image/v2/images without data.
{
    for i in $(seq 1000); do
        printf 'url = "%s/image/v2/images"\nheader = "X-Auth-Token: %s"\n' "$ST_URL" "$ST_TOKEN"
        printf 'header = "Content-Type: application/json"\noutput = "/dev/null"\n'
        printf 'write-out = "%%{http_code}\\n"\n'
        printf 'data = "{\\"name\\": \\"bench-%04d\\", \\"disk_format\\": \\"raw\\", \\"container_format\\": \\"bare\\"}"\n' "$i"
        [ "$i" = 1000 ] || echo next
    done
} >"$W/create.curl"
t0=$EPOCHREALTIME
created=$(curl -s -K "$W/create.curl" | grep -c '^201$' || true)
t_create=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
n=$(curl -s "${auth[@]}" "$ST_URL/image/v2/images?limit=1000" | jq '.images | length')
echo "# $created images created through the API (POST /image/v2/images, no data) in ${t_create} s; a listing shows $n"

list_pcts() { # QUERY
    for _ in $(seq 50); do
        curl -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$ST_URL/image/v2/images$1"
    done | pcts 1000
}
echo "image list, 1,000 images, GET /image/v2/images?limit=1000: $(list_pcts '?limit=1000') ms (50 requests, curl, sequential)"
echo "image list, 1,000 images, default page (limit 25): $(list_pcts '') ms (50 requests)"
echo "stratusd RSS at the end: $(mib "$(rss_kib "$pid")") MiB"
