#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t002 - Glance v2 through Debian's openstack CLI: create with data, list,
# show, properties, save, sharing between projects, delete; and hostile or
# bad uploads, each refused with the right code and nothing left on disk.
. "$(dirname "$0")/lib.sh"
plan 53

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"
W=$ST_TMP/work
mkdir -p "$W"
images_dir=$ST_DATA/images
files_in_store() { find "$images_dir" -type f | wc -l; }

qemu-img create -q -f qcow2 "$W/good.qcow2" 64M
check "image create --file (qcow2)" os image create --file "$W/good.qcow2" \
    --disk-format qcow2 --container-format bare --property os_distro=test good
out=$(os image show good -f json)
check_match "image is active" '"status": "active"' "$out"
check_match "virtual_size is read from the qcow2 header" '"virtual_size": 67108864' "$out"
md5=$(md5sum "$W/good.qcow2" | cut -d' ' -f1)
check_match "checksum is the MD5 of the data" "\"checksum\": \"$md5\"" "$out"
sha=$(sha512sum "$W/good.qcow2" | cut -d' ' -f1)
check_match "os_hash_value is the SHA-512" "$sha" "$out"
out=$(os image list -f value -c Name)
check_eq "image list" "good" "$out"

check "image set --property" os image set --property hw_disk_bus=virtio good
out=$(os image show good -f value -c properties)
check_match "property is stored" "hw_disk_bus.*virtio" "$out"
check "image unset --property" os image unset --property hw_disk_bus good
out=$(os image show good -f value -c properties)
check_fail "property is gone" grep -q hw_disk_bus <<<"$out"

check "image save --file" os image save --file "$W/saved" good
check "saved data is identical" cmp "$W/good.qcow2" "$W/saved"

# Data spanning several of the upload's 1 MiB blocks, not a multiple of one.
head -c $((3 * 1048576 + 12345)) /dev/urandom >"$W/blocks.raw"
check "image create --file (3 MiB raw)" os image create --file "$W/blocks.raw" \
    --disk-format raw --container-format bare big
out=$(os image show big -f json)
check_match "its checksum is the MD5 of the data" \
    "\"checksum\": \"$(md5sum "$W/blocks.raw" | cut -d' ' -f1)\"" "$out"
check_match "its os_hash_value is the SHA-512" "$(sha512sum "$W/blocks.raw" | cut -d' ' -f1)" "$out"
os image save --file "$W/big.saved" big
check "it downloads identical" cmp "$W/blocks.raw" "$W/big.saved"
os image delete big

# Ranged download.
id=$(os image show good -f value -c id)
ST_TOKEN=$(os token issue -f value -c id)
res=$(curl -s -H "X-Auth-Token: $ST_TOKEN" -H "Range: bytes=0-3" -w ' %{http_code}' \
    "$ST_URL/image/v2/images/$id/file" | od -An -c | tr -d ' \n')
check_eq "range request returns the first 4 bytes (QFI\\373) with 206" 'QFI373206' "$res"

# Sharing between projects.
os project create p2 >/dev/null
os user create --password bob-pw --project p2 bob >/dev/null
os role add --project p2 --user bob member >/dev/null
p2=$(os project show p2 -f value -c id)
check "image set --shared" os image set --shared good
check "image add project" os image add project good p2
use_user bob bob-pw p2
out=$(os image list -f value -c Name)
check_eq "a pending shared image is not listed for the member" "" "$out"
check "member accepts: image set --accept" os image set --accept "$id"
out=$(os image list -f value -c Name)
check_eq "an accepted shared image is listed" "good" "$out"
ST_TOKEN=$(os token issue -f value -c id)
code=$(http PATCH "/image/v2/images/$id" \
    -H 'Content-Type: application/openstack-images-v2.1-json-patch' \
    -d '[{"op":"replace","path":"/name","value":"x"}]' | cut -d' ' -f1)
check_eq "the member cannot change the owner's image (403)" 403 "$code"
out=$(os image create --public pub 2>&1)
check_match "a member creating a public image is refused (403)" 'HTTP 403|403' "$out"
use_admin

# Bad and hostile input.
printf 'not a qcow2 at all' >"$W/text.img"
before=$(files_in_store)
out=$(os image create --file "$W/text.img" --disk-format qcow2 --container-format bare liar 2>&1)
check_match "data that is not what disk_format says is refused (400)" '400|Bad Request' "$out"
# The CLI deletes an image whose upload failed; check the state by hand.
ST_TOKEN=$(os token issue -f value -c id)
lid=$(http POST /image/v2/images -d '{"name": "liar2", "disk_format": "qcow2",
    "container_format": "bare"}' | sed 's/^201 //' | jq -r .id)
res=$(http PUT "/image/v2/images/$lid/file" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$W/text.img" | cut -d' ' -f1)
check_eq "a lying upload through the API is 400" 400 "$res"
out=$(http GET "/image/v2/images/$lid" | sed 's/^200 //' | jq -r .status)
check_eq "the refused image is back to queued" "queued" "$out"
check_eq "no file is left on disk" "$before" "$(files_in_store)"

qemu-img create -q -f qcow2 "$W/base.qcow2" 16M
qemu-img create -q -f qcow2 -b "$W/base.qcow2" -F qcow2 "$W/backed.qcow2"
out=$(os image create --file "$W/backed.qcow2" --disk-format qcow2 --container-format bare \
    backed 2>&1)
check_match "a qcow2 with a backing file is refused" 'backing file' "$out"
qemu-img create -q -f qcow2 -o data_file="$W/data.raw" "$W/ext.qcow2" 16M
out=$(os image create --file "$W/ext.qcow2" --disk-format qcow2 --container-format bare \
    external 2>&1)
check_match "a qcow2 with an external data file is refused" 'data file' "$out"
head -c 50 "$W/good.qcow2" >"$W/trunc.qcow2"
out=$(os image create --file "$W/trunc.qcow2" --disk-format qcow2 --container-format bare \
    truncated 2>&1)
check_match "a truncated qcow2 header is refused" '400|truncated' "$out"
out=$(os image create --file "$W/good.qcow2" --disk-format raw --container-format bare \
    rawlie 2>&1)
check_match "a qcow2 declared as raw is refused" '400|qcow2' "$out"
check_eq "still no stray files" "$before" "$(files_in_store)"

# An upload cut off half way: the image goes back to queued, no part file.
ST_TOKEN=$(os token issue -f value -c id)
cid=$(http POST /image/v2/images -d '{"name": "cut", "disk_format": "raw",
    "container_format": "bare"}' | sed 's/^201 //' | jq -r .id)
head -c $((64 << 20)) /dev/urandom >"$W/big.raw"
curl -s -o /dev/null -X PUT -H "X-Auth-Token: $ST_TOKEN" --limit-rate 4M \
    -H 'Content-Type: application/octet-stream' --data-binary @"$W/big.raw" \
    "$ST_URL/image/v2/images/$cid/file" &
cpid=$!
saving=
for _ in $(seq 40); do
    saving=$(http GET "/image/v2/images/$cid" | sed 's/^200 //' | jq -r .status)
    [ "$saving" = saving ] && break
    sleep 0.1
done
check_eq "an upload in progress shows the image saving" saving "$saving"
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
status=
for _ in $(seq 50); do
    status=$(http GET "/image/v2/images/$cid" | sed 's/^200 //' | jq -r .status)
    [ "$status" = queued ] && break
    sleep 0.1
done
check_eq "an interrupted upload returns the image to queued" queued "$status"
check_eq "and leaves no partial file" "" "$(find "$images_dir" -name ".$cid*" -o -name "$cid")"
http DELETE "/image/v2/images/$cid" >/dev/null

res=$(http PUT "/image/v2/images/$id/file" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$W/good.qcow2" | cut -d' ' -f1)
check_eq "upload to an active image is 409" 409 "$res"
qid=$(http POST /image/v2/images -d '{"name": "empty"}' | sed 's/^201 //' | jq -r .id)
res=$(http GET "/image/v2/images/$qid/file" | cut -d' ' -f1)
check_eq "download of a queued image is 204 No Content (as Glance)" 204 "$res"
res=$(http PATCH "/image/v2/images/$id" -H \
    'Content-Type: application/openstack-images-v2.1-json-patch' \
    -d '[{"op":"replace","path":"/size","value":1}]')
check_match "PATCH of a read-only field is 403" "^403 .*read-only" "$res"
res=$(http GET "/image/v2/images/00000000-0000-4000-8000-000000000000" | cut -d' ' -f1)
check_eq "unknown image is 404" 404 "$res"
res=$(http POST /image/v2/images -d '{"name": 5}' | cut -d' ' -f1)
check_eq "a name that is not a string is 400" 400 "$res"
res=$(http POST /image/v2/images -d '{"disk_format": "floppy"}' | cut -d' ' -f1)
check_eq "an unknown disk_format is 400" 400 "$res"

check "image delete" os image delete good liar2 empty
out=$(os image list -f value -c Name)
check_eq "image list after delete" "" "$out"
check_eq "the image files are gone" 0 "$(files_in_store)"
stop_stratusd

# [image] max_size: an upload past it is 413, the image stays queued, no file.
printf '[image]\nmax_size = 2097152\n' >"$W/small.conf"
start_stratusd --config "$W/small.conf" || not_ok "stratusd starts with max_size"
ST_TOKEN=$(os token issue -f value -c id)
lid=$(http POST /image/v2/images -d '{"name": "large", "disk_format": "raw",
    "container_format": "bare"}' | sed 's/^201 //' | jq -r .id)
res=$(http PUT "/image/v2/images/$lid/file" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$W/blocks.raw")
check_match "an upload over [image] max_size is 413" "^413 .*storage limit" "$res"
check_eq "the image is queued again" queued \
    "$(http GET "/image/v2/images/$lid" | sed 's/^200 //' | jq -r .status)"
check_eq "no file is left" 0 "$(files_in_store)"
stop_stratusd
done_testing
