#!/usr/bin/env bash
# t012-agent-volumes.sh - the agent's block storage (VOLUMES.md) against the
# fake controller (tests/agent/fake-controller.py), with real libvirt, QEMU
# (TCG), qemu-img, tgtd and QEMU's libiscsi initiator, and the test guest.
# Prints TAP.
#
# What it proves: a file volume is made, hot-plugged into a running guest
# whose console shows the disk with its serial (the volume id), a pattern the
# guest writes with dd is in the qcow2 on the host; a snapshot, an extend
# (grown in the running guest), a detach; a volume from the snapshot shows
# the guest the old pattern; a backup and a restore hold it too; the same
# volume over iSCSI on loopback (tgtd, CHAP, a libvirt secret) is written by
# the guest and read back on the host, and its target and secret go with
# the attachment; snapshots, backups and volumes are removed when no longer
# desired, a stray volume file in the pool is removed, a file outside the
# pool's names is not; a server boots from a volume made from the test
# image.  lvm cannot run here (no device-mapper in this kernel): it is
# skipped with that reason (golden argv in tests/unit/test-agent-volume.c).
#
# Needs root, libvirtd, tgt and qemu-block-extra (scripts/install-deps).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FC=$ST_TOP/tests/agent/fake-controller.py
GUEST=${STRATUS_GUEST_DIR:-$ST_TOP/build/guest}
AGENT=$ST_BUILD/stratus-agent
HOST=t012-$$
FCDIR=$ST_TMP/fc
DATA=$ST_TMP/agent
INST=$DATA/instances
POOL=$DATA/volumes
BACKUPS=$DATA/backups
LIBVIRT=qemu:///system
SERVERS=()
AGENT_PID=
PORTAL_PORT=
TGTD_PID=

chmod 0755 "$ST_TMP"

teardown() {
    local id
    [ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
    if [ "$ST_FAILED" -ne 0 ]; then
        cp "$ST_TMP/agent.log" "${TMPDIR:-/tmp}/t012.agent.log" 2>/dev/null &&
            echo "# agent log kept in ${TMPDIR:-/tmp}/t012.agent.log"
        for id in "${SERVERS[@]}"; do
            cp "$INST/$id/console.log" "${TMPDIR:-/tmp}/t012.console.$id.log" 2>/dev/null
        done
    fi
    for id in "${SERVERS[@]}"; do
        virsh -q -c "$LIBVIRT" destroy "instance-$id" >/dev/null 2>&1
        virsh -q -c "$LIBVIRT" undefine "instance-$id" --nvram >/dev/null 2>&1
    done
    # Our targets (the IQNs hold our attachment ids) and secrets.
    for a in "${ATTS[@]}"; do
        tid=$(tgtadm --lld iscsi --mode target --op show 2>/dev/null |
            sed -n "s/^Target \([0-9]*\): iqn.2026-01.invalid.stratus:$a\$/\1/p")
        [ -n "$tid" ] && tgtadm --lld iscsi --mode target --op delete --force --tid "$tid" >/dev/null 2>&1
    done
    for u in $(virsh -q -c "$LIBVIRT" secret-list 2>/dev/null | awk '{print $1}'); do
        virsh -q -c "$LIBVIRT" secret-dumpxml "$u" 2>/dev/null | grep -q "stratus-$HOST_ID-" &&
            virsh -q -c "$LIBVIRT" secret-undefine "$u" >/dev/null 2>&1
    done
    st_cleanup
}
ATTS=()
HOST_ID=none
trap teardown EXIT

bail() {
    echo "Bail out! $*"
    exit 1
}

[ "$(id -u)" = 0 ] || bail "needs root"
[ -x "$AGENT" ] || bail "no $AGENT (build it first)"
command -v tgtadm >/dev/null || bail "tgt is not installed (scripts/install-deps)"
[ -e /usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so ] || bail "qemu-block-extra is not installed"
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 50); do
    virsh -q -c "$LIBVIRT" version >/dev/null 2>&1 && break
    sleep 0.1
done
if [ ! -s "$GUEST/vmlinuz" ] || [ ! -s "$GUEST/initrd.img" ] || [ ! -s "$GUEST/disk.qcow2" ]; then
    "$ST_TOP/tests/guest/build" --out "$GUEST" >"$ST_TMP/guest-build.log" 2>&1 ||
        bail "the test guest cannot be built (see tests/guest/build)"
fi

uuid() { /usr/bin/python3 -c 'import uuid; print(uuid.uuid4())'; }
fcx() { local c=$1; shift; "$FC" "$c" "$FCDIR" "$@"; }
console() { { tr -d '\r' <"$INST/$1/console.log"; } 2>/dev/null; }
wait_console() { # ID ERE TIMEOUT
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        console "$1" | grep -qE -- "$2" && return 0
        sleep 0.3
    done
    return 1
}
console_tail() { console "$1" | tail -n 12 | sed 's/^/#   console: /'; }
agent_tail() { tail -n 8 "$ST_TMP/agent.log" | sed 's/^/#   agent: /'; }
wait_vol() { # ID EXPR WHAT [TIMEOUT]
    local out
    if out=$(fcx wait-volume "$1" "$2" "${4:-60}"); then
        ok "$3"
    else
        not_ok "$3"
        echo "#   last report entry: $out"
        agent_tail
    fi
}
wait_srv() { # ID EXPR WHAT [TIMEOUT]
    local out
    if out=$(fcx wait-server "$1" "$2" "${4:-60}"); then
        ok "$3"
    else
        not_ok "$3"
        echo "#   last report entry: $out"
        agent_tail
    fi
}
# The first 40 bytes of [A-Za-z0-9-] at 1 MiB of a qcow2 (a guest may have
# it open), from qemu-io's hex column (its text column shows '-' as '.').
qcow_data() {
    qemu-io -r -U -f qcow2 -c 'read -v 1M 64' "$1" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
b = b"".join(bytes.fromhex(m.group(1)) for m in
             (re.match(r"^[0-9a-f]+:  ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})", l) for l in sys.stdin) if m)
print(re.sub(rb"[^A-Za-z0-9-]", b"", b).decode()[:40])'
}
task() { # KIND ARGS-JSON-MEMBERS: adds a volume task, prints its id
    local id
    id=$(uuid)
    fcx add-task "{\"id\": \"$id\", \"kind\": \"$1\", $2}"
    echo "$id"
}

# ------------------------------------------------------------------ set-up

mkdir -p "$FCDIR/images"
K=$(uuid)
R=$(uuid)
I=$(uuid)
cp "$GUEST/vmlinuz" "$FCDIR/images/$K"
cp "$GUEST/initrd.img" "$FCDIR/images/$R"
cp "$GUEST/disk.qcow2" "$FCDIR/images/$I"
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$FCDIR/secret"

# tgtd has one control socket per machine: when none answers, the agent
# starts one listening on its [volume] iscsi_portal (a free port here), and
# the test stops it at the end; when one runs, the agent uses it.
PORTAL_PORT=$(free_port)
if ! tgtadm --lld iscsi --mode system --op show >/dev/null 2>&1; then
    TGTD_STARTED=1
else
    # one runs already: find its portal
    PORTAL_PORT=$(ss -ltnpH 2>/dev/null | awk '/"tgtd"/ { split($4, a, ":"); print a[length(a)]; exit }')
    TGTD_STARTED=0
fi
[ -n "$PORTAL_PORT" ] || bail "no tgtd portal"

# image_json ID FMT [PROPS]
image_json() {
    /usr/bin/python3 - "$FCDIR" "$1" "$2" "${3:-{\}}" <<'EOF'
import hashlib, json, os, sys
d, i, fmt, props = sys.argv[1:5]
p = os.path.join(d, "images", i)
print(json.dumps({"id": i, "name": fmt + "-" + i[:8], "disk_format": fmt,
                  "container_format": "bare", "size": os.path.getsize(p),
                  "checksum": hashlib.md5(open(p, "rb").read()).hexdigest(), "min_disk": 0,
                  "properties": json.loads(props)}))
EOF
}
PROPS="{\"kernel_id\": \"$K\", \"ramdisk_id\": \"$R\", \"os_command_line\": \"console=ttyS0 quiet\"}"
IMG=$(image_json "$I" qcow2 "$PROPS")
KIMG=$(image_json "$K" aki)
RIMG=$(image_json "$R" ari)

# server_json ID NAME USERDATA-FILE [OVERRIDES]
server_json() {
    /usr/bin/python3 - "$1" "$2" "$3" "$IMG" "$KIMG" "$RIMG" "${4:-{\}}" <<'EOF'
import base64, json, sys, uuid
sid, name, udf, img, k, r, over = sys.argv[1:8]
ud = base64.b64encode(open(udf, "rb").read()).decode() if udf != "-" else None
srv = {"id": sid, "name": name, "hostname": name,
       "project_id": str(uuid.UUID(int=1)), "project_name": "demo",
       "user_id": str(uuid.UUID(int=2)), "user_name": "alice",
       "created_at": "2026-11-23T18:00:00Z", "availability_zone": "nova", "launch_index": 0,
       "flavor": {"id": "f1", "name": "tiny", "vcpus": 1, "ram": 160, "disk": 1,
                  "ephemeral": 0, "swap": 0, "extra_specs": {}},
       "image": json.loads(img), "kernel": json.loads(k), "ramdisk": json.loads(r),
       "power": "running", "delete": False, "disk_generation": 1, "config_drive": False,
       "user_data": ud, "key": None, "admin_pass": None, "metadata": {},
       "rescue": None, "resize": None, "nics": [], "volumes": []}
srv.update(json.loads(over))
print(json.dumps(srv))
EOF
}

V1=$(uuid)
V2=$(uuid)
V3=$(uuid)
V4=$(uuid)
V5=$(uuid)
SN1=$(uuid)
B1=$(uuid)
A1=$(uuid)
A2=$(uuid)
A3=$(uuid)
A5=$(uuid)
ATTS=("$A3")

# The guest's user-data: in the background, every half second, print each
# virtio disk that appears (its serial and the 40 printable bytes at 1 MiB)
# and each that goes; write "T012-<serial>" at 1 MiB of the disks whose
# serial is V1's or V3's, once each.
cat >"$ST_TMP/ud.sh" <<EOF
#!/bin/sh
W1=\$(echo $V1 | cut -c1-20)
W3=\$(echo $V3 | cut -c1-20)
(
seen=" "
written=" "
while :; do
	now=" "
	for f in /sys/block/vd*/serial; do
		[ -r "\$f" ] || continue
		d=\${f#/sys/block/}; d=\${d%/serial}
		s=\$(cat "\$f")
		now="\$now\$d=\$s "
		case "\$seen" in *" \$d=\$s "*) continue ;; esac
		if [ "\$s" = "\$W1" ] || [ "\$s" = "\$W3" ]; then
			case "\$written" in *" \$s "*) ;; *)
				printf 'T012-%s' "\$s" | dd of=/dev/\$d bs=1M seek=1 conv=fsync 2>/dev/null
				written="\$written\$s "
				echo "t012: wrote \$d serial=\$s" ;;
			esac
		fi
		data=\$(dd if=/dev/\$d bs=1M skip=1 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9-' | head -c 40)
		echo "t012: disk \$d serial=\$s size=\$(cat /sys/block/\$d/size) data=\$data"
	done
	for e in \$seen; do
		case "\$now" in *" \$e "*) ;; *) echo "t012: gone \$e" ;; esac
	done
	seen="\$now"
	sleep 0.5
done
) </dev/null >/dev/console 2>&1 &
exit 0
EOF

"$FC" serve "$FCDIR" --host "$HOST" --report-interval 2 >>"$ST_TMP/fc.log" 2>&1 &
ST_PIDS+=("$!")
for _ in $(seq 100); do
    [ -s "$FCDIR/port" ] && break
    sleep 0.05
done
URL=http://127.0.0.1:$(cat "$FCDIR/port")
HOST_ID=$(cat "$FCDIR/host_id")
fcx set-doc 'volumes=[]' 'backups=[]'
printf '[DEFAULT]\nhost = %s\ncredential = %s\nshutdown_timeout = 10\n[libvirt]\nvirt_type = qemu\n[volume]\niscsi_portal = 127.0.0.1:%s\n' \
    "$HOST" "$FCDIR/secret" "$PORTAL_PORT" >"$ST_TMP/agent.conf"
"$AGENT" --data-dir "$DATA" --controller "$URL" --config "$ST_TMP/agent.conf" \
    --log-file "$ST_TMP/agent.log" --log-level debug 2>>"$ST_TMP/agent.err" &
AGENT_PID=$!
ST_PIDS+=("$AGENT_PID")

# ------------------------------------------------------------------ tests

for _ in $(seq 100); do
    [ -s "$FCDIR/registrations.jsonl" ] && break
    sleep 0.1
done
check_eq "registration lists the file backend" "file" \
    "$(head -n 1 "$FCDIR/registrations.jsonl" | jq -r '[.volume_backends[].name] | join(",")')"

# An empty volume: created, reported available with its location.
fcx add-volume "{\"id\": \"$V1\", \"backend\": \"file\", \"size\": 1, \"delete\": false, \"source\": null, \"snapshots\": [], \"exports\": []}"
wait_vol "$V1" 'v["state"] == "available" and v["size"] == 1' "an empty 1 GiB volume becomes available"
check_eq "its location is the qcow2 in the pool" "$POOL/volume-$V1.qcow2" \
    "$(fcx wait-volume "$V1" True 1 | jq -r .location.path)"
check_eq "the qcow2 is 1 GiB" 1073741824 \
    "$(qemu-img info -U --output=json "$POOL/volume-$V1.qcow2" | jq '."virtual-size"')"

# A guest, then the volume hot-plugged into it.
S1=$(uuid)
SERVERS+=("$S1")
fcx add-server "$(server_json "$S1" vm1 "$ST_TMP/ud.sh")"
if wait_console "$S1" 'stratus-guest: ready' 180; then ok "vm1 boots"; else not_ok "vm1 boots"; console_tail "$S1"; fi
att() { # ATT VOL DEV [CONNECTION-JSON] [BOOT_INDEX]
    local conn=${4:-"{\"type\": \"file\", \"path\": \"$POOL/volume-$2.qcow2\", \"format\": \"qcow2\"}"}
    printf '{"attachment_id": "%s", "volume_id": "%s", "device": "%s", "boot_index": %s, "connection": %s, "delete": false}' \
        "$1" "$2" "$3" "${5:-null}" "$conn"
}
fcx set "$S1" "volumes=[$(att "$A1" "$V1" vdb)]"
wait_srv "$S1" "any(a['attachment_id'] == '$A1' and a['state'] == 'attached' for a in s['volumes'])" \
    "the attachment is reported attached"
W1=$(echo "$V1" | cut -c1-20)
if wait_console "$S1" "t012: disk vdb serial=$W1 " 60; then
    ok "the guest sees the hot-plugged disk with the volume id as its serial"
else
    not_ok "the guest sees the hot-plugged disk with the volume id as its serial"
    console_tail "$S1"
fi
virsh -q -c "$LIBVIRT" dumpxml --inactive "instance-$S1" | grep -q "<serial>$V1</serial>" &&
    ok "the persistent definition has the disk too" || not_ok "the persistent definition has the disk too"
wait_console "$S1" "t012: wrote vdb serial=$W1" 30
check_eq "the guest's dd pattern is in the qcow2 on the host" "T012-$W1" "$(qcow_data "$POOL/volume-$V1.qcow2")"

# Snapshot: a standalone copy with the pattern.
fcx set-volume "$V1" "snapshots=[{\"id\": \"$SN1\", \"delete\": false}]"
wait_vol "$V1" "v['snapshots'][0]['id'] == '$SN1' and v['snapshots'][0]['state'] == 'available'" "the snapshot becomes available"
check_eq "the snapshot holds the pattern" "T012-$W1" "$(qcow_data "$POOL/snapshot-$SN1.qcow2")"
check_eq "the snapshot has no backing file" null \
    "$(qemu-img info -U --output=json "$POOL/snapshot-$SN1.qcow2" | jq '."backing-filename"')"

# Extend while attached to the running guest: libvirt's block resize.
fcx set-volume "$V1" "size=2"
wait_vol "$V1" "v['size'] == 2" "extend: the volume reports 2 GiB"
check_eq "the qcow2 is 2 GiB" 2147483648 \
    "$(qemu-img info -U --output=json "$POOL/volume-$V1.qcow2" | jq '."virtual-size"')"
grep -q "grown to 2 GiB (in its running guest)" "$ST_TMP/agent.log" &&
    ok "it grew through the running guest (virDomainBlockResize)" || not_ok "it grew through the running guest"
check_eq "the guest's disk has 2 GiB" 4194304 \
    "$(virsh -q -c "$LIBVIRT" domblkinfo "instance-$S1" vdb 2>/dev/null | awk '/Capacity/ {print $2 / 512}')"

# Detach, as the controller asks it (the attachment with "delete"): once the
# report leaves it out, QEMU has let go of the image (checked below by a
# write that needs its lock).
fcx set "$S1" "volumes=[$(att "$A1" "$V1" vdb | sed 's/"delete": false/"delete": true/')]"
wait_srv "$S1" "s['volumes'] == []" "detach: the attachment is no longer reported"
if wait_console "$S1" "t012: gone vdb=$W1" 60; then ok "the disk leaves the guest"; else not_ok "the disk leaves the guest"; console_tail "$S1"; fi
virsh -q -c "$LIBVIRT" dumpxml --inactive "instance-$S1" | grep -q "<serial>$V1</serial>" &&
    not_ok "the definition no longer has the disk" || ok "the definition no longer has the disk"

# Overwrite V1's pattern on the host, then a volume from the snapshot: the
# guest reads the old pattern.
qemu-io -f qcow2 -c 'write -P 0x41 1M 64k' "$POOL/volume-$V1.qcow2" >/dev/null 2>"$ST_TMP/qemu-io.err" ||
    diag "qemu-io: $(tail -n 2 "$ST_TMP/qemu-io.err")"
fcx set "$S1" "volumes=[]"
check_eq "V1 is overwritten" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "$(qcow_data "$POOL/volume-$V1.qcow2")"
fcx add-volume "{\"id\": \"$V2\", \"backend\": \"file\", \"size\": 3, \"delete\": false, \"source\": {\"type\": \"snapshot\", \"id\": \"$SN1\"}, \"snapshots\": [], \"exports\": []}"
wait_vol "$V2" "v['state'] == 'available' and v['size'] == 3" "a 3 GiB volume from the snapshot becomes available"
fcx set "$S1" "volumes=[$(att "$A2" "$V2" vdc)]"
W2=$(echo "$V2" | cut -c1-20)
if wait_console "$S1" "t012: disk vd[a-z] serial=$W2 size=6291456 data=T012-$W1" 60; then
    ok "the guest reads the snapshot's pattern from the new volume (3 GiB)"
else
    not_ok "the guest reads the snapshot's pattern from the new volume"
    console_tail "$S1"
fi
fcx set "$S1" "volumes=[]"
wait_srv "$S1" "s['volumes'] == []" "the volume from the snapshot is detached"

# Backup of V2 (the pattern), restore into a new volume.  The controller
# lists the backups to keep from the moment it makes the record.
fcx set-doc "backups=[{\"id\": \"$B1\"}]"
T=$(task volume_backup "\"volume_id\": \"$V2\", \"backup_id\": \"$B1\"")
if out=$(fcx wait-task "$T" 120) && [ "$(echo "$out" | jq -r .status)" = done ]; then
    ok "backup task done ($(echo "$out" | jq -c .result))"
else
    not_ok "backup task done"
    echo "#   $out"
fi
[ -s "$BACKUPS/backup-$B1.qcow2" ] && [ "$(jq -r .volume_id "$BACKUPS/backup-$B1.json")" = "$V2" ] &&
    ok "the backup and its sidecar are in the backup directory" || not_ok "the backup and its sidecar are in the backup directory"
check_eq "the sidecar's checksum is the file's" "sha256:$(sha256sum "$BACKUPS/backup-$B1.qcow2" | cut -d' ' -f1)" \
    "$(jq -r .checksum "$BACKUPS/backup-$B1.json")"
# Delete V2 and the snapshot (and V1's snapshot list), restore from the backup.
fcx set-volume "$V2" delete=true
fcx set-volume "$V1" "snapshots=[{\"id\": \"$SN1\", \"delete\": true}]"
gone_from_desired() { # VOLUME_ID TIMEOUT
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        jq -e --arg v "$1" '[.volumes[] | select(.id == $v)] | length == 0' "$FCDIR/desired.json" >/dev/null && return 0
        sleep 0.2
    done
    return 1
}
gone_from_desired "$V2" 60 && ok "the volume from the snapshot is deleted (reported gone)" ||
    { not_ok "the volume from the snapshot is deleted (reported gone)"; agent_tail; }
for _ in $(seq 50); do [ -e "$POOL/snapshot-$SN1.qcow2" ] || break; sleep 0.2; done
[ ! -e "$POOL/volume-$V2.qcow2" ] && [ ! -e "$POOL/snapshot-$SN1.qcow2" ] &&
    ok "its file and the snapshot's are gone" || not_ok "its file and the snapshot's are gone"
fcx add-volume "{\"id\": \"$V4\", \"backend\": \"file\", \"size\": 3, \"delete\": false, \"source\": {\"type\": \"backup\", \"id\": \"$B1\"}, \"snapshots\": [], \"exports\": []}"
wait_vol "$V4" "v['state'] == 'available' and v['size'] == 3" "a volume restored from the backup becomes available"
check_eq "it holds the pattern" "T012-$W1" "$(qcow_data "$POOL/volume-$V4.qcow2")"

# iSCSI on loopback: an export with CHAP, attached through QEMU's libiscsi.
CHAP_USER="att-$(echo "$A3" | cut -c1-8)"
CHAP_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
fcx add-volume "{\"id\": \"$V3\", \"backend\": \"file\", \"size\": 1, \"delete\": false, \"source\": null, \"snapshots\": [], \"exports\": [{\"attachment_id\": \"$A3\", \"chap_user\": \"$CHAP_USER\", \"chap_secret\": \"$CHAP_SECRET\"}]}"
wait_vol "$V3" "v['state'] == 'available' and v['exports'][0]['attachment_id'] == '$A3'" "an exported volume reports its iSCSI export"
IQN=$(fcx wait-volume "$V3" True 1 | jq -r '.exports[0].iqn')
check_eq "the IQN names the attachment" "iqn.2026-01.invalid.stratus:$A3" "$IQN"
tgtadm --lld iscsi --mode target --op show | grep -A40 "$IQN\$" >"$ST_TMP/target.txt"
grep -q "Backing store path: $POOL/volume-$V3.qcow2" "$ST_TMP/target.txt" && grep -q "^        $CHAP_USER\$" "$ST_TMP/target.txt" &&
    ok "tgtd has the target on the volume's file with the CHAP account" || not_ok "tgtd has the target with the CHAP account"
ISCSI_CONN="{\"type\": \"iscsi\", \"portal\": \"127.0.0.1:$PORTAL_PORT\", \"iqn\": \"$IQN\", \"lun\": 1, \"chap_user\": \"$CHAP_USER\", \"chap_secret\": \"$CHAP_SECRET\", \"format\": \"qcow2\"}"
fcx set "$S1" "volumes=[$(att "$A3" "$V3" vdb "$ISCSI_CONN")]"
wait_srv "$S1" "any(a['attachment_id'] == '$A3' and a['state'] == 'attached' for a in s['volumes'])" \
    "the iSCSI attachment is reported attached"
W3=$(echo "$V3" | cut -c1-20)
if wait_console "$S1" "t012: disk vd[a-z] serial=$W3 " 60; then ok "the guest sees the iSCSI disk"; else not_ok "the guest sees the iSCSI disk"; console_tail "$S1"; fi
virsh -q -c "$LIBVIRT" dumpxml "instance-$S1" | grep -q "protocol=.iscsi." &&
    ok "the live disk is a network disk over iSCSI" || not_ok "the live disk is a network disk over iSCSI"
virsh -q -c "$LIBVIRT" secret-list 2>/dev/null | grep -q "stratus-$HOST_ID-$A3" &&
    ok "a libvirt secret holds the CHAP password" || not_ok "a libvirt secret holds the CHAP password"
wait_console "$S1" "t012: wrote vd[a-z] serial=$W3" 30
check_eq "the guest's pattern written over iSCSI is in the qcow2" "T012-$W3" "$(qcow_data "$POOL/volume-$V3.qcow2")"
# A wrong CHAP secret is refused by the target.
if qemu-io -r -c 'read 0 512' --image-opts "driver=qcow2,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:$PORTAL_PORT,file.target=$IQN,file.lun=1,file.user=$CHAP_USER,file.password-secret=s0" \
    --object secret,id=s0,data=00000000000000000000000000000000 >/dev/null 2>&1; then
    not_ok "a wrong CHAP secret is refused"
else
    ok "a wrong CHAP secret is refused"
fi
fcx set "$S1" "volumes=[]"
fcx set-volume "$V3" "exports=[]"
wait_srv "$S1" "s['volumes'] == []" "the iSCSI volume is detached"
for _ in $(seq 50); do
    tgtadm --lld iscsi --mode target --op show | grep -q "$IQN\$" || break
    sleep 0.2
done
tgtadm --lld iscsi --mode target --op show | grep -q "$IQN\$" && not_ok "its target is removed" || ok "its target is removed"
for _ in $(seq 50); do
    virsh -q -c "$LIBVIRT" secret-list 2>/dev/null | grep -q "stratus-$HOST_ID-$A3" || break
    sleep 0.2
done
virsh -q -c "$LIBVIRT" secret-list 2>/dev/null | grep -q "stratus-$HOST_ID-$A3" &&
    not_ok "its libvirt secret is removed" || ok "its libvirt secret is removed"

# Upload to an image (os-volume_upload_image): PUT /internal/v1/images/ID/file.
IMG2=$(uuid)
T=$(task volume_upload_image "\"volume_id\": \"$V3\", \"image_id\": \"$IMG2\", \"disk_format\": \"qcow2\"")
if out=$(fcx wait-task "$T" 120) && [ "$(echo "$out" | jq -r .status)" = done ]; then
    ok "upload-to-image task done"
else
    not_ok "upload-to-image task done"
    echo "#   $out"
fi
check_eq "the uploaded image is a qcow2 with the pattern" "T012-$W3" "$(qcow_data "$FCDIR/uploads/$IMG2")"

# Boot from a volume made from the test image.
fcx add-volume "{\"id\": \"$V5\", \"backend\": \"file\", \"size\": 1, \"delete\": false, \"source\": {\"type\": \"image\", \"image\": $IMG}, \"snapshots\": [], \"exports\": []}"
wait_vol "$V5" "v['state'] == 'available'" "a volume from the test image becomes available" 120
S2=$(uuid)
SERVERS+=("$S2")
fcx add-server "$(server_json "$S2" vm2 - "{\"volumes\": [$(att "$A5" "$V5" vda "" 0)]}")"
if wait_console "$S2" 'stratus-guest: ready' 180; then ok "a server boots from the volume"; else not_ok "a server boots from the volume"; console_tail "$S2"; fi
console "$S2" | grep -q "disk=testguest" && ok "its disk is the image's file system (disk=testguest)" ||
    { not_ok "its disk is the image's file system"; console_tail "$S2"; }
[ ! -e "$INST/$S2/disk" ] && ok "it has no root disk of its own" || not_ok "it has no root disk of its own"
check_eq "its first disk is the volume" "$POOL/volume-$V5.qcow2" \
    "$(virsh -q -c "$LIBVIRT" domblklist "instance-$S2" | awk '$1 == "vda" {print $2}')"

# Leftovers: a stray volume file of the pool goes, other files stay.
STRAY=$(uuid)
qemu-img create -q -f qcow2 "$POOL/volume-$STRAY.qcow2" 1M
: >"$POOL/notes.txt"
for _ in $(seq 100); do [ -e "$POOL/volume-$STRAY.qcow2" ] || break; sleep 0.2; done
[ ! -e "$POOL/volume-$STRAY.qcow2" ] && ok "a volume file nothing desires is removed" || not_ok "a volume file nothing desires is removed"
[ -e "$POOL/notes.txt" ] && ok "a file not named like a volume stays" || not_ok "a file not named like a volume stays"

# SIGKILL while a volume is being made: the restarted agent makes it, and
# no half-made file is left.
V6=$(uuid)
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
: >"$POOL/volume-$V6.qcow2.part"
fcx add-volume "{\"id\": \"$V6\", \"backend\": \"file\", \"size\": 1, \"delete\": false, \"source\": {\"type\": \"image\", \"image\": $IMG}, \"snapshots\": [], \"exports\": []}"
"$AGENT" --data-dir "$DATA" --controller "$URL" --config "$ST_TMP/agent.conf" \
    --log-file "$ST_TMP/agent.log" --log-level debug 2>>"$ST_TMP/agent.err" &
AGENT_PID=$!
ST_PIDS+=("$AGENT_PID")
for _ in $(seq 40); do [ -e "$POOL/volume-$V6.qcow2.part" ] && break; sleep 0.05; done
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
"$AGENT" --data-dir "$DATA" --controller "$URL" --config "$ST_TMP/agent.conf" \
    --log-file "$ST_TMP/agent.log" --log-level debug 2>>"$ST_TMP/agent.err" &
AGENT_PID=$!
ST_PIDS+=("$AGENT_PID")
wait_vol "$V6" "v['state'] == 'available'" "after SIGKILLs the volume is made by the restarted agent" 120
check_eq "no .part file is left in the pool" "" "$(ls "$POOL" | grep '\.part$' | tr '\n' ' ')"
check_eq "the volumes made before are still there" "4" \
    "$(ls "$POOL" | grep -cE "volume-($V1|$V3|$V4|$V5)\.qcow2")"

# Deletes: servers, volumes, the backup.
fcx set "$S2" delete=true
fcx set "$S1" delete=true
fcx wait-gone "$S1" 60 && fcx wait-gone "$S2" 60 && ok "the servers are deleted" || not_ok "the servers are deleted"
for v in "$V1" "$V3" "$V4" "$V5" "$V6"; do fcx set-volume "$v" delete=true; done
fcx set-doc 'backups=[]'
for _ in $(seq 100); do
    [ -z "$(ls "$POOL" | grep -v notes.txt)" ] && [ -z "$(ls "$BACKUPS")" ] && break
    sleep 0.2
done
check_eq "the pool holds no volume any more" "" "$(ls "$POOL" | grep -v notes.txt | tr '\n' ' ')"
check_eq "the backup is removed when no longer desired" "" "$(ls "$BACKUPS" | tr '\n' ' ')"
check_eq "the controller dropped every volume" "0" "$(jq '.volumes | length' "$FCDIR/desired.json")"

skip "lvm backend" "no device-mapper in this kernel: golden argv in tests/unit/test-agent-volume.c"

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
check_eq "the agent exits 0 on SIGTERM" 0 "$rc"
if [ "${TGTD_STARTED:-0}" = 1 ]; then
    pid=$(ss -ltnpH "sport = :$PORTAL_PORT" 2>/dev/null | sed -n 's/.*"tgtd",pid=\([0-9]*\).*/\1/p' | head -n 1)
    if [ -n "$pid" ]; then
        ok "the agent started tgtd on its portal (pid $pid)"
        # tgtd ignores SIGTERM; this is how it is told to stop
        tgtadm --lld iscsi --mode system --op delete >/dev/null 2>&1 || kill -KILL "$pid"
    else
        not_ok "the agent started tgtd on its portal"
    fi
fi
if ls "$ST_TMP"/asan* "$ST_TMP"/ubsan* >/dev/null 2>&1; then
    not_ok "no sanitizer report"
    head -n 30 "$ST_TMP"/asan* "$ST_TMP"/ubsan* 2>/dev/null | sed 's/^/#   /'
else
    ok "no sanitizer report"
fi
plan "$ST_N"
done_testing
