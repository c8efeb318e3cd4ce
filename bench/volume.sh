#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# volume.sh - block storage benchmarks (issue 9 "Benchmarks").  Uses the
# optimised build in build/: its own stratusd, libvirtd and stratus-agent
# (file backend, pool in its temporary directory), the test guest.  Prints
# figures only; never passes or fails on time.  Needs root.
#
#   bench/volume.sh [N]      (default 5 samples of each latency)
#
#  - an empty 1 GiB volume: POST latency, and POST until `available`
#    (polled every 10 ms with curl, not the CLI);
#  - a 1 GiB volume from the test image: POST until `available`;
#  - attach to a running guest (POST os-volume_attachments) until in-use,
#    and until the guest's console shows the disk (the guest's watcher looks
#    every 0.2 s; console polled every 0.2 s), then detach until available;
#  - in the guest, sequential 1 MiB writes (conv=fsync) and reads (caches
#    dropped) of 100 MiB of the volume, against the same qcow2 file attached
#    by hand with virsh attach-disk: MB/s and the ratio;
#  - snapshot and backup of that 1 GiB volume with 10 % (100 MiB) written:
#    POST until available.
set -euo pipefail
n=${1:-5}
case $n in '' | *[!0-9]* | 0) echo "usage: bench/volume.sh [N]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "volume.sh needs root (libvirt, the agent)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage stratus-agent
set +e

start_stratusd >/dev/null || { echo "stratusd does not start" >&2; exit 1; }
start_agent || { echo "the agent does not register" >&2; exit 1; }
upload_guest || { echo "cannot upload the test guest" >&2; exit 1; }
bench_token || exit 1
P=$(os token issue -f value -c project_id)
H=(-H "X-Auth-Token: $ST_TOKEN" -H 'Content-Type: application/json' -H 'OpenStack-API-Version: volume 3.60')
NH=(-H "X-Auth-Token: $ST_TOKEN" -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.79')
V=$ST_URL/volume/v3/$P
C=$ST_URL/compute/v2.1

vstat() { curl -s "${H[@]}" "$V/volumes/$1" | jq -r .volume.status; }
# until_status URL JQ STATUS: polls every 10 ms (at most 300 s)
until_status() {
    local end=$((SECONDS + 300)) s
    while [ $SECONDS -lt $end ]; do
        s=$(curl -s "${H[@]}" "$1" | jq -r "$2")
        [ "$s" = "$3" ] && return 0
        case $s in error*) return 1 ;; esac
        sleep 0.01
    done
    return 1
}
post_volume() { # JSON: prints "ID POST-MS"
    local t0 t1 id
    t0=$(now_ms)
    id=$(curl -s "${H[@]}" -d "$1" "$V/volumes" | jq -r .volume.id)
    t1=$(now_ms)
    echo "$id $(echo "$t1 - $t0" | bc)"
}
console() { curl -s "${NH[@]}" -d '{"os-getConsoleOutput": {"length": -1}}' "$C/servers/$1/action" | jq -r .output; }
wait_console_re() { # SERVER ERE SECONDS
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        console "$1" | grep -Eq -- "$2" && return 0
        sleep 0.2
    done
    return 1
}

# -- empty volumes, from the image -----------------------------------------------
: >"$ST_TMP/api" && : >"$ST_TMP/avail"
for i in $(seq "$n"); do
    t0=$(now_ms)
    read -r id ms < <(post_volume '{"volume": {"size": 1, "name": "e'"$i"'"}}')
    until_status "$V/volumes/$id" .volume.status available
    t1=$(now_ms)
    echo "$ms" >>"$ST_TMP/api"
    echo "$t1 - $t0" | bc >>"$ST_TMP/avail"
    curl -s -X DELETE "${H[@]}" "$V/volumes/$id" >/dev/null
done
echo "empty 1 GiB volume, POST: $(pcts 1 <"$ST_TMP/api") ms ($n runs)"
echo "empty 1 GiB volume, POST to available: $(pcts 1 <"$ST_TMP/avail") ms (target < 200 ms)"
IMG=$(os image show testguest -f value -c id)
: >"$ST_TMP/img"
for i in $(seq "$n"); do
    t0=$(now_ms)
    read -r id _ < <(post_volume '{"volume": {"size": 1, "name": "i'"$i"'", "imageRef": "'"$IMG"'"}}')
    until_status "$V/volumes/$id" .volume.status available
    echo "$(now_ms) - $t0" | bc >>"$ST_TMP/img"
    curl -s -X DELETE "${H[@]}" "$V/volumes/$id" >/dev/null
done
echo "1 GiB volume from the test image ($(du -k "$ST_GUEST/disk.qcow2" | cut -f1) KiB qcow2), POST to available: $(pcts 1 <"$ST_TMP/img") ms"

# -- a guest; attach and detach ------------------------------------------------------
read -r TV _ < <(post_volume '{"volume": {"size": 1, "name": "tput"}}')
until_status "$V/volumes/$TV" .volume.status available
TW=$(echo "$TV" | cut -c1-20)
cat >"$ST_TMP/ud" <<EOF
#!/bin/sh
(
dd if=/dev/urandom of=/run/r10 bs=1M count=10 2>/dev/null
seen=" "
ms() { read -r u _ </proc/uptime; echo "\${u%.*}\${u#*.}0"; }
while :; do
	for f in /sys/block/vd*/serial; do
		[ -r "\$f" ] || continue
		d=\${f#/sys/block/}; d=\${d%/serial}
		s=\$(cat "\$f"); [ -n "\$s" ] || continue
		case "\$seen" in *" \$d=\$s "*) continue ;; esac
		seen="\$seen\$d=\$s "
		echo "bench: disk \$d serial=\$s"
		case \$s in $TW|handmade) ;; *) continue ;; esac
		a=\$(ms)
		for i in 0 1 2 3 4 5 6 7 8 9; do dd if=/run/r10 of=/dev/\$d bs=1M seek=\$((i * 10)) conv=fsync 2>/dev/null; done
		b=\$(ms)
		echo 3 >/proc/sys/vm/drop_caches
		dd if=/dev/\$d of=/dev/null bs=1M count=100 2>/dev/null
		c=\$(ms)
		echo "bench: tput serial=\$s write_ms=\$((b - a)) read_ms=\$((c - b))"
	done
	for e in \$seen; do [ -e /sys/block/\${e%%=*} ] || seen=\$(echo "\$seen" | sed "s/ \$e / /"); done
	sleep 0.2
done
) </dev/null >/dev/console 2>&1 &
exit 0
EOF
os "${NOVA[@]}" server create --image testguest --flavor small --nic none --user-data "$ST_TMP/ud" \
    --wait bvm >/dev/null || { echo "the guest does not boot" >&2; exit 1; }
SID=$(os server show bvm -f value -c id)
wait_console_re "$SID" 'stratus-guest: ready' 300 || { echo "the guest is not ready" >&2; exit 1; }
: >"$ST_TMP/inuse" && : >"$ST_TMP/seen" && : >"$ST_TMP/det"
for i in $(seq "$n"); do
    read -r id _ < <(post_volume '{"volume": {"size": 1, "name": "a'"$i"'"}}')
    until_status "$V/volumes/$id" .volume.status available
    t0=$(now_ms)
    curl -s "${NH[@]}" -d '{"volumeAttachment": {"volumeId": "'"$id"'"}}' \
        "$C/servers/$SID/os-volume_attachments" >/dev/null
    until_status "$V/volumes/$id" .volume.status in-use
    echo "$(now_ms) - $t0" | bc >>"$ST_TMP/inuse"
    wait_console_re "$SID" "bench: disk vd[a-z]+ serial=$(echo "$id" | cut -c1-20)" 60
    echo "$(now_ms) - $t0" | bc >>"$ST_TMP/seen"
    t0=$(now_ms)
    curl -s -X DELETE "${NH[@]}" "$C/servers/$SID/os-volume_attachments/$id" >/dev/null
    until_status "$V/volumes/$id" .volume.status available
    echo "$(now_ms) - $t0" | bc >>"$ST_TMP/det"
    curl -s -X DELETE "${H[@]}" "$V/volumes/$id" >/dev/null
done
echo "attach to a running guest, POST to in-use: $(pcts 1 <"$ST_TMP/inuse") ms"
echo "attach, POST until the guest's console shows the disk: $(pcts 1 <"$ST_TMP/seen") ms (target < 1 s + hot plug)"
echo "detach, DELETE to available: $(pcts 1 <"$ST_TMP/det") ms"

# -- throughput: the volume, then the same file by hand ---------------------------------
curl -s "${NH[@]}" -d '{"volumeAttachment": {"volumeId": "'"$TV"'"}}' \
    "$C/servers/$SID/os-volume_attachments" >/dev/null
wait_console_re "$SID" "bench: tput serial=$TW " 600
vol=$(console "$SID" | grep -Eo "bench: tput serial=$TW .*" | tail -n 1)
curl -s -X DELETE "${NH[@]}" "$C/servers/$SID/os-volume_attachments/$TV" >/dev/null
until_status "$V/volumes/$TV" .volume.status available
F=$ST_DATA/volumes/volume-$TV.qcow2
cp --sparse=always "$F" "$ST_TMP/handmade.qcow2"
chmod 0644 "$ST_TMP/handmade.qcow2"
virsh -q -c qemu:///system attach-disk "instance-$SID" "$ST_TMP/handmade.qcow2" vdz --driver qemu \
    --subdriver qcow2 --serial handmade --live >/dev/null
wait_console_re "$SID" "bench: tput serial=handmade " 600
hand=$(console "$SID" | grep -Eo "bench: tput serial=handmade .*" | tail -n 1)
virsh -q -c qemu:///system detach-disk "instance-$SID" vdz --live >/dev/null
mbs() { echo "$1" | sed -n "s/.*$2_ms=\([0-9]*\).*/\1/p" | awk '{ if ($1 > 0) printf "%.1f", 100 * 1000 / $1; else print "?" }'; }
vw=$(mbs "$vol" write) vr=$(mbs "$vol" read) hw=$(mbs "$hand" write) hr=$(mbs "$hand" read)
echo "in the guest, 100 MiB sequential 1 MiB writes (fsync): volume $vw MB/s, same qcow2 by hand $hw MB/s (ratio $(echo "scale=2; $vw / $hw" | bc 2>/dev/null))"
echo "in the guest, 100 MiB sequential 1 MiB reads: volume $vr MB/s, same qcow2 by hand $hr MB/s (ratio $(echo "scale=2; $vr / $hr" | bc 2>/dev/null))"

# -- snapshot and backup of the 1 GiB volume with 100 MiB written ---------------------
echo "(the volume's qcow2 holds $(qemu-img info -U --output=json "$F" | jq '."actual-size" / 1048576 | floor') MiB)"
t0=$(now_ms)
sn=$(curl -s "${H[@]}" -d '{"snapshot": {"volume_id": "'"$TV"'", "name": "bs"}}' "$V/snapshots" | jq -r .snapshot.id)
until_status "$V/snapshots/$sn" .snapshot.status available
echo "snapshot of a 1 GiB volume, 10 % written: $(echo "$(now_ms) - $t0" | bc) ms"
t0=$(now_ms)
bk=$(curl -s "${H[@]}" -d '{"backup": {"volume_id": "'"$TV"'", "name": "bb"}}' "$V/backups" | jq -r .backup.id)
until_status "$V/backups/$bk" .backup.status available
echo "backup of a 1 GiB volume, 10 % written: $(echo "$(now_ms) - $t0" | bc) ms ($(du -k "$ST_DATA"/backups/backup-*.qcow2 | cut -f1 | head -n 1) KiB compressed)"

os server delete --wait bvm >/dev/null
curl -s -X DELETE "${H[@]}" "$V/backups/$bk" >/dev/null
curl -s -X DELETE "${H[@]}" "$V/snapshots/$sn" >/dev/null
sleep 2
curl -s -X DELETE "${H[@]}" "$V/volumes/$TV" >/dev/null
sleep 2
echo "stratusd RSS $(($(awk '/VmRSS/ {print $2}' "/proc/$ST_PID/status") / 1024)) MiB, agent $(($(awk '/VmRSS/ {print $2}' "/proc/$ST_AGENT_PID/status") / 1024)) MiB"
