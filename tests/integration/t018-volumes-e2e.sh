#!/bin/bash
# t018 - block storage end to end (issue 9 item 3): Debian's openstack CLI
# against the real stratusd and the real agent, real libvirt/QEMU (TCG),
# tgtd and the test guest.  Two guests whose user-data watches their virtio
# disks: each disk that appears (found by its serial, the volume id) is
# printed on the console with its size and the bytes at 1 MiB, and the
# disks the user-data names get a pattern written there with dd.  A volume
# written in vm1 is detached and read back in vm2; a snapshot (forced, of
# the in-use volume) keeps the pattern vm2 then overwrites, and a volume
# made from it reads the old one; a backup survives the deletion of its
# volume and snapshot and is restored; a volume of an iscsi=true type goes
# through tgtd and QEMU's iSCSI initiator; an attached volume grows in the
# guest; a server boots from a volume made from the test image.  The errors
# that are cheap here (delete in-use 400, shrink 400, over quota 413), and
# nothing is left: no volume or snapshot file, backup, domain, target or
# libvirt secret.
#
# Every action and every value checked goes through the CLI; the polls that
# wait in between are API calls (curl): a CLI call is a python start, 1-2 s
# of a small machine's CPU, and the waits made over a hundred of them.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v tgtadm >/dev/null || { echo "1..0 # SKIP tgt is not installed (scripts/install-deps)"; exit 0; }

iqns() { tgtadm --lld iscsi --mode target --op show 2>/dev/null | grep -c '^Target .*invalid.stratus:'; }
secrets() { virsh -q -c qemu:///system secret-list 2>/dev/null | wc -l; }
# tgtd has one control socket per machine: when none answers, the agent
# starts one on its [volume] iscsi_portal (a free port), stopped at the end.
PORTAL_PORT=$(free_port)
TGTD_STARTED=0
tgtadm --lld iscsi --mode system --op show >/dev/null 2>&1 || TGTD_STARTED=1
if [ "$TGTD_STARTED" = 0 ]; then
    PORTAL_PORT=$(ss -ltnpH 2>/dev/null | awk '/"tgtd"/ { split($4, a, ":"); print a[length(a)]; exit }')
fi
stop_tgtd() {
    [ "$TGTD_STARTED" = 1 ] || return 0
    tgtadm --lld iscsi --mode system --op delete >/dev/null 2>&1
    TGTD_STARTED=0
}
teardown() {
    [ "$ST_FAILED" -ne 0 ] && [ -d "${ST_TMP:-}" ] &&
        cp "$ST_TMP/agent.log" "${TMPDIR:-/tmp}/t018.agent.log" 2>/dev/null &&
        cp "$ST_TMP/stratusd.log" "${TMPDIR:-/tmp}/t018.stratusd.log" 2>/dev/null &&
        echo "# logs kept in ${TMPDIR:-/tmp}/t018.{agent,stratusd}.log"
    st_cleanup
    stop_tgtd
}
trap teardown EXIT

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"
check "libvirtd runs" start_libvirt
before=$(leak_snapshot)
iqn0=$(iqns)
sec0=$(secrets)
if start_agent_with "[volume]
iscsi_portal = 127.0.0.1:$PORTAL_PORT"; then
    ok "the agent registers"
else
    not_ok "the agent registers"
fi
check "upload the test guest images" upload_guest
POOL=$ST_DATA/volumes
BACKUPS=$ST_DATA/backups
PROJECT=$(os token issue -f value -c project_id)
ST_TOKEN=$(os token issue -f value -c id)
api() { curl -s -H "X-Auth-Token: $ST_TOKEN" -H 'Content-Type: application/json' "${@:2}" "$ST_URL$1"; }
# api_field COLLECTION-PATH KEY NAME FIELD: FIELD of the item named NAME
# ("none" when there is none).
api_field() {
    api "$1" | jq -r --arg n "$3" --arg f "$4" "[.$2[] | select(.name == \$n)][0][\$f] // \"none\""
}

vstatus() { os volume show "$1" -f value -c status 2>&1; }
vpoll() { api_field "/volume/v3/$PROJECT/volumes/detail" volumes "$1" status; }
# wait_vstatus VOLUME STATUS [SECONDS]
wait_vstatus() {
    local got=
    for _ in $(seq $((${3:-60} * 4))); do
        got=$(vpoll "$1")
        [ "$got" = "$2" ] && return 0
        case $got in error*) break ;; esac
        sleep 0.25
    done
    echo "# volume $1 is '$got', not '$2'"
    return 1
}
wait_snapshot() { # SNAPSHOT STATUS
    local got=
    for _ in $(seq 240); do
        got=$(api_field "/volume/v3/$PROJECT/snapshots/detail" snapshots "$1" status)
        [ "$got" = "$2" ] && return 0
        sleep 0.25
    done
    echo "# snapshot $1 is '$got'"
    return 1
}
wait_backup() { # BACKUP STATUS
    local got=
    for _ in $(seq 480); do
        got=$(api_field "/volume/v3/$PROJECT/backups/detail" backups "$1" status)
        [ "$got" = "$2" ] && return 0
        sleep 0.25
    done
    echo "# backup $1 is '$got'"
    return 1
}
vid() { api_field "/volume/v3/$PROJECT/volumes/detail" volumes "$1" id; }
ser() { echo "$1" | cut -c1-20; }
console_of() { os console log show "$1" 2>/dev/null | tr -d '\r'; }
# delete_servers NAME...: server delete (all at once: --wait deletes one and
# polls it every 5 s before the next), then until none is listed.
delete_servers() {
    local s left gone
    os server delete "$@" || return 1
    for _ in $(seq 480); do
        left=$(api "/compute/v2.1/servers")
        if jq -e '.servers | type == "array"' <<<"$left" >/dev/null 2>&1; then
            left=$(jq -r '.servers[].name' <<<"$left")
            gone=yes
            for s in "$@"; do grep -qx "$s" <<<"$left" && gone=no; done
            [ $gone = yes ] && return 0
        fi
        sleep 0.25
    done
    echo "# still there: $(echo $left)"
    return 1
}
# see "what" SERVER ERE [SECONDS]: the server's console shows the line
# (polled every 0.25 s through the API: os-getConsoleOutput).
sid() { api "/compute/v2.1/servers/detail" | jq -r --arg n "$1" '[.servers[] | select(.name == $n)][0].id'; }
console_api() {
    api "/compute/v2.1/servers/$1/action" -X POST -d '{"os-getConsoleOutput": {}}' | jq -r .output | tr -d '\r'
}
see() {
    local id out=
    id=$(sid "$2")
    for _ in $(seq $((${4:-90} * 4))); do
        out=$(console_api "$id")
        if printf '%s' "$out" | grep -Eq -- "$3"; then
            ok "$1"
            return
        fi
        sleep 0.25
    done
    not_ok "$1"
    echo "#   expected on $2's console: $3"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/# console: /'
}
# wait_active SERVER [SECONDS]
wait_active() {
    local id got=
    id=$(sid "$1")
    for _ in $(seq $((${2:-$ST_BOOT_TIMEOUT} * 4))); do
        got=$(api "/compute/v2.1/servers/$id" | jq -r .server.status)
        [ "$got" = ACTIVE ] && return 0
        [ "$got" = ERROR ] && break
        sleep 0.25
    done
    echo "# $1 is '$got', not ACTIVE"
    return 1
}
# attach SERVER VOLUME: server add volume, then in-use
attach() {
    os server add volume "$1" "$2" >/dev/null && wait_vstatus "$2" in-use 60
}
detach() {
    os server remove volume "$1" "$2" >/dev/null && wait_vstatus "$2" available 60
}

# The volumes the guests write, made before them (their user-data names them).
t0=$(date +%s%N)
V1=$(os volume create --size 1 v1 -f value -c id 2>&1)
t1=$(date +%s%N)
check_match "volume create --size 1 v1" '^[0-9a-f-]{36}$' "$V1"
check "v1 becomes available" wait_vstatus v1 available
diag "empty 1 GiB volume: API $(((t1 - t0) / 1000000)) ms, available after $((($(date +%s%N) - t0) / 1000000)) ms (CLI polls included)"
check_eq "its file is in the agent's pool" 1073741824 \
    "$(qemu-img info -U --output=json "$POOL/volume-$V1.qcow2" 2>/dev/null | jq '."virtual-size"')"
check "volume type create iscsi --property iscsi=true" \
    os volume type create --property volume_backend_name=file --property iscsi=true iscsi
VI=$(os volume create --size 1 --type iscsi vi -f value -c id 2>&1)
check "an iscsi volume vi becomes available" wait_vstatus vi available

PA=T018-A-$RANDOM$RANDOM
PB=T018-B-$RANDOM$RANDOM
PC=T018-C-$RANDOM$RANDOM
W1=$(ser "$V1")
WI=$(ser "$VI")
# userdata FILE SERIAL=PATTERN...: the guest's watcher.  Every half second,
# each virtio disk that appears or changes size is printed
#   t018: disk vdX serial=S size=SECTORS data=BYTES-AT-1MiB
# and each that goes "t018: gone vdX=S=SIZE"; a disk whose serial is named
# gets its pattern written at 1 MiB with dd, once, then "t018: wrote".
userdata() {
    local f=$1
    shift
    {
        echo '#!/bin/sh'
        echo "RULES=\" $* \""
        cat <<'EOF'
(
seen=" "
written=" "
while :; do
	now=" "
	for f in /sys/block/vd*/serial; do
		[ -r "$f" ] || continue
		d=${f#/sys/block/}; d=${d%/serial}
		s=$(cat "$f")
		[ -n "$s" ] || continue
		z=$(cat /sys/block/$d/size)
		now="$now$d=$s=$z "
		case "$seen" in *" $d=$s=$z "*) continue ;; esac
		data=$(dd if=/dev/$d bs=1M skip=1 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9-' | head -c 40)
		echo "t018: disk $d serial=$s size=$z data=$data"
		for r in $RULES; do
			[ "${r%%=*}" = "$s" ] || continue
			case "$written" in *" $s "*) continue ;; esac
			printf '%s' "${r#*=}" | dd of=/dev/$d bs=1M seek=1 conv=fsync 2>/dev/null
			written="$written$s "
			data=$(dd if=/dev/$d bs=1M skip=1 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9-' | head -c 40)
			echo "t018: wrote $d serial=$s data=$data"
		done
	done
	for e in $seen; do
		case "$now" in *" $e "*) ;; *) echo "t018: gone $e" ;; esac
	done
	seen="$now"
	sleep 0.5
done
) </dev/null >/dev/console 2>&1 &
exit 0
EOF
    } >"$f"
}
userdata "$ST_TMP/ud1" "$W1=$PA" "$WI=$PC"
userdata "$ST_TMP/ud2" "$W1=$PB"

for i in 1 2; do
    check "server create --nic none --user-data (the watcher) vm$i" os "${NOVA[@]}" server create \
        --image testguest --flavor tiny --nic none --user-data "$ST_TMP/ud$i" "vm$i"
done
check "vm1 is ACTIVE" wait_active vm1
check "vm2 is ACTIVE" wait_active vm2
see "vm1 is ready" vm1 'stratus-guest: ready' 240
see "vm2 is ready" vm2 'stratus-guest: ready' 240

# ---- attach, write in vm1, read in vm2 -------------------------------------
t0=$(date +%s%N)
check "server add volume vm1 v1: in-use" attach vm1 v1
t1=$(date +%s%N)
see "vm1 sees the disk by its serial (the volume id)" vm1 "t018: disk vd[a-z]+ serial=$W1 size=2097152 "
diag "attach: in-use after $(((t1 - t0) / 1000000)) ms, visible in the guest after $((($(date +%s%N) - t0) / 1000000)) ms (console polls included)"
check_eq "volume show: attached to vm1" "$(os server show vm1 -f value -c id)" \
    "$(os volume show v1 -f json 2>&1 | jq -r '.attachments[0].server_id')"
out=$(os volume list -c Name -c "Attached to" 2>&1)
# Cinder says /dev/vdb (the mountpoint Nova gives).
check_match "volume list: v1 attached to vm1" "v1 +\\| Attached to vm1 on (/dev/)?vd[a-z]" "$out"
out=$(os "${NOVA[@]}" server show vm1 -f json 2>&1 | jq -r '.volumes_attached | tostring')
check_match "server show vm1 lists v1 in volumes_attached" "$V1" "$out"
see "vm1 wrote the pattern with dd" vm1 "t018: wrote vd[a-z]+ serial=$W1 data=$PA"

res=$(http DELETE "/volume/v3/$PROJECT/volumes/$V1")
check_match "deleting an in-use volume is 400" '^400 .*badRequest' "$res"
out=$(os volume create --size 5000 huge 2>&1)
check_match "a size over the quota is 413" 'HTTP 413|exceed' "$out"

out=$(os volume snapshot create --volume v1 s1 2>&1)
check_match "a snapshot of an in-use volume needs --force" 'HTTP 400|in-use|force' "$out"
check "volume snapshot create --force --volume v1 s1" os volume snapshot create --force --volume v1 s1
check "s1 becomes available" wait_snapshot s1 available

t0=$(date +%s%N)
check "server remove volume vm1 v1: available" detach vm1 v1
diag "detach: available after $((($(date +%s%N) - t0) / 1000000)) ms"
see "the disk leaves vm1" vm1 "t018: gone vd[a-z]+=$W1="
check_eq "volume show: no attachment" 0 "$(os volume show v1 -f json 2>&1 | jq '.attachments | length')"
check "server add volume vm2 v1" attach vm2 v1
see "vm2 reads vm1's pattern" vm2 "t018: disk vd[a-z]+ serial=$W1 size=2097152 data=$PA"
see "vm2 overwrites it" vm2 "t018: wrote vd[a-z]+ serial=$W1 data=$PB"
check "server remove volume vm2 v1" detach vm2 v1

# ---- snapshot: a volume from it holds the old pattern ---------------------
check "volume create --snapshot s1 --size 1 v2" os volume create --snapshot s1 --size 1 v2
check "v2 becomes available" wait_vstatus v2 available
V2=$(vid v2)
check "server add volume vm2 v2" attach vm2 v2
see "vm2 reads the snapshot's (old) pattern from v2" vm2 \
    "t018: disk vd[a-z]+ serial=$(ser "$V2") size=2097152 data=$PA"

# ---- extend an attached volume: it grows in the guest ----------------------
check "volume set --size 2 v2 (attached)" os volume set --size 2 v2
check "v2 is in-use again" wait_vstatus v2 in-use
check_eq "v2 is 2 GiB" 2 "$(os volume show v2 -f value -c size 2>&1)"
see "the guest sees v2 grow to 2 GiB" vm2 "t018: disk vd[a-z]+ serial=$(ser "$V2") size=4194304 "
res=$(http POST "/volume/v3/$PROJECT/volumes/$V2/action" \
    -d '{"os-extend": {"new_size": 1}}')
check_match "shrinking is 400" '^400 .*badRequest' "$res"
check "server remove volume vm2 v2" detach vm2 v2

# ---- backup, delete the volume and its snapshot, restore -------------------
t0=$(date +%s%N)
check "volume backup create --name b1 v1" os volume backup create --name b1 v1
check "b1 becomes available" wait_backup b1 available
diag "backup of a 1 GiB volume (a few bytes written): available after $((($(date +%s%N) - t0) / 1000000)) ms"
check "volume snapshot delete s1" os volume snapshot delete s1
for _ in $(seq 120); do [ "$(api_field "/volume/v3/$PROJECT/snapshots/detail" snapshots s1 id)" = none ] && break; sleep 0.25; done
check_fail "s1 is gone" os volume snapshot show s1
check "volume delete v1" os volume delete v1
for _ in $(seq 120); do [ "$(vpoll v1)" = none ] && break; sleep 0.25; done
check_fail "v1 is gone" os volume show v1
for _ in $(seq 40); do [ -e "$POOL/volume-$V1.qcow2" ] || break; sleep 0.25; done
check_eq "its file and the snapshot's are gone from the pool" "" \
    "$(ls "$POOL" | grep -E "$V1|snapshot-" | tr '\n' ' ')"
# Debian's OSC restores, then fails to print the answer (its take_action
# returns the restore object, not columns and data): that error is fine.
out=$(os volume backup restore b1 v3 2>&1)
check_match "volume backup restore b1 v3" '^$|^[+|]|cannot unpack non-iterable VolumeBackupsRestore' "$out"
check "v3 becomes available" wait_vstatus v3 available 120
V3=$(vid v3)
check "server add volume vm2 v3" attach vm2 v3
see "vm2 reads the pattern from the restored volume" vm2 \
    "t018: disk vd[a-z]+ serial=$(ser "$V3") size=2097152 data=$PB"
check "server remove volume vm2 v3" detach vm2 v3

# ---- iSCSI on loopback (type iscsi=true) ----------------------------------
check "server add volume vm1 vi (iSCSI)" attach vm1 vi
see "vm1 sees the iSCSI disk" vm1 "t018: disk vd[a-z]+ serial=$WI size=2097152 "
check_match "the live disk is an iSCSI network disk" "protocol=.iscsi." \
    "$(virsh -q -c qemu:///system dumpxml "instance-$(os server show vm1 -f value -c id)" 2>&1)"
check_eq "tgtd has a target for it" $((iqn0 + 1)) "$(iqns)"
see "vm1 writes over iSCSI" vm1 "t018: wrote vd[a-z]+ serial=$WI data=$PC"
check "server remove volume vm1 vi" detach vm1 vi
check "server add volume vm2 vi (iSCSI)" attach vm2 vi
see "vm2 reads it over iSCSI" vm2 "t018: disk vd[a-z]+ serial=$WI size=2097152 data=$PC"
check "server remove volume vm2 vi" detach vm2 vi
for _ in $(seq 40); do [ "$(iqns)" = "$iqn0" ] && break; sleep 0.25; done
check_eq "its target is gone with the attachment" "$iqn0" "$(iqns)"

# ---- boot from a volume made from the test image ---------------------------
check "server delete vm1" delete_servers vm1
t0=$(date +%s%N)
check "volume create --image testguest --size 1 --bootable bootvol" \
    os volume create --image testguest --size 1 --bootable bootvol
check "bootvol becomes available" wait_vstatus bootvol available 120
diag "1 GiB volume from the test image: available after $((($(date +%s%N) - t0) / 1000000)) ms"
check_eq "bootvol is bootable" true "$(os volume show bootvol -f value -c bootable 2>&1)"
create_vm3() {
    os "${NOVA[@]}" server create --volume bootvol --flavor tiny --nic none vm3 >/dev/null &&
        wait_active vm3
}
check "server create --volume bootvol vm3: ACTIVE" create_vm3
see "vm3 boots from the volume" vm3 'stratus-guest: ready' 240
log=$(console_of vm3)
check_match "its root file system is the image's (disk=testguest)" 'disk=testguest' "$log"
check_eq "bootvol is in-use by vm3" in-use "$(vstatus bootvol)"
check_match "server show vm3 lists bootvol" "$(vid bootvol)" \
    "$(os "${NOVA[@]}" server show vm3 -f json 2>&1 | jq -r '.volumes_attached | tostring')"
check "server delete vm2 vm3" delete_servers vm2 vm3
check "bootvol is available again" wait_vstatus bootvol available

# ---- nothing left -------------------------------------------------------------
check "volume backup delete b1" os volume backup delete b1
check "volume delete v2 v3 vi bootvol" os volume delete v2 v3 vi bootvol
for _ in $(seq 120); do
    [ "$(api "/volume/v3/$PROJECT/volumes" | jq '.volumes | length')" = 0 ] &&
        [ "$(api "/volume/v3/$PROJECT/backups" | jq '.backups | length')" = 0 ] &&
        [ -z "$(ls "$POOL" 2>/dev/null | grep -E '^(volume|snapshot)-')" ] && [ -z "$(ls -A "$BACKUPS" 2>/dev/null)" ] && break
    sleep 0.5
done
check_eq "no volume is left" "" "$(os volume list -f value -c ID 2>&1)"
check_eq "no backup is left" "" "$(os volume backup list -f value -c ID 2>&1)"
check_eq "no volume-*/snapshot-* file is left in the pool" "" "$(ls "$POOL" 2>/dev/null | tr '\n' ' ')"
check_eq "the backup directory is empty" "" "$(ls -A "$BACKUPS" 2>/dev/null | tr '\n' ' ')"
for _ in $(seq 60); do [ "$(leak_snapshot)" = "$before" ] && break; sleep 0.5; done
check_eq "no domain, instance directory or QEMU process is left" "$before" "$(leak_snapshot)"
check_eq "no iSCSI target is left" "$iqn0" "$(iqns)"
check_eq "no libvirt secret is left" "$sec0" "$(secrets)"

kill -TERM "$ST_AGENT_PID"
wait "$ST_AGENT_PID"
check_eq "the agent exits 0 on SIGTERM" 0 "$?"
stop_tgtd
stop_stratusd
plan "$ST_N"
done_testing
