#!/usr/bin/env bash
# t-agent-fake.sh - stratus-agent against a fake controller
# (tests/agent/fake-controller.py), with real libvirt and QEMU (TCG) and the
# project's test guest (tests/guest/build).  Prints TAP.
#
# What it proves: a server made of the test guest's kernel, ramdisk and
# disk boots and its console shows the guest's markers (hostname from the
# seed); stop, start, soft and hard reboot, console log, snapshot, a guest
# that powers itself off, rebuild, resize (confirm and revert), rescue and
# delete converge; the agent killed with SIGKILL in the middle of a build
# converges when restarted; a domain removed by hand is made again; the
# domain and directory of a server deleted while the agent was down are
# removed; unused cached images are cleaned; --once does one pass; SIGTERM
# stops the agent cleanly, with no sanitizer report.
#
# Needs root, libvirtd and virtlogd (started here when absent) and the test
# guest (built when missing).  Binaries from $STRATUS_BUILD (default
# build-asan).  Guests run under TCG (virt_type = qemu).
# Environment: STRATUS_GUEST_DIR (default build/guest),
# STRATUS_BOOT_TIMEOUT (seconds a boot may take, default 120).

# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

FC=$ST_TOP/tests/agent/fake-controller.py
GUEST=${STRATUS_GUEST_DIR:-$ST_TOP/build/guest}
BOOT_TIMEOUT=${STRATUS_BOOT_TIMEOUT:-120}
AGENT=$ST_BUILD/stratus-agent
HOST=t-agent-$$
FCDIR=$ST_TMP/fc
DATA=$ST_TMP/agent
INST=$DATA/instances
LIBVIRT=qemu:///system
SERVERS=()
AGENT_PID=
FC_PID=

plan 81

# QEMU runs as libvirt-qemu: it must reach the files under $ST_TMP.
chmod 0755 "$ST_TMP"

teardown() {
    local id
    [ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
    if [ "$ST_FAILED" -ne 0 ]; then
        cp "$ST_TMP/agent.log" "${TMPDIR:-/tmp}/t-agent-fake.agent.log" 2>/dev/null &&
            echo "# agent log kept in ${TMPDIR:-/tmp}/t-agent-fake.agent.log"
    fi
    for id in "${SERVERS[@]}"; do
        virsh -q -c "$LIBVIRT" destroy "instance-$id" >/dev/null 2>&1
        virsh -q -c "$LIBVIRT" undefine "instance-$id" --managed-save --nvram >/dev/null 2>&1
    done
    st_cleanup
}
trap teardown EXIT

bail() {
    echo "Bail out! $*"
    exit 1
}

[ "$(id -u)" = 0 ] || bail "needs root"
[ -x "$AGENT" ] || bail "no $AGENT (build it first)"
command -v virsh >/dev/null || bail "virsh (libvirt-clients) is needed by the test"
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
now() { date +%s.%N; }
since() { /usr/bin/python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
fcx() { local c=$1; shift; "$FC" "$c" "$FCDIR" "$@"; }

# Images served by the fake controller.
mkdir -p "$FCDIR/images"
K=$(uuid)
R=$(uuid)
I=$(uuid)
I2=$(uuid)
cp "$GUEST/vmlinuz" "$FCDIR/images/$K"
cp "$GUEST/initrd.img" "$FCDIR/images/$R"
cp "$GUEST/disk.qcow2" "$FCDIR/images/$I"
cp "$GUEST/disk.qcow2" "$FCDIR/images/$I2"
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$FCDIR/secret"

# server_json ID NAME [IMAGE] [OVERRIDES-JSON]: a SERVER of the protocol.
server_json() {
    /usr/bin/python3 - "$FCDIR" "$1" "$2" "${3:-$I}" "$K" "$R" "${4:-{\}}" <<'EOF'
import hashlib, json, os, sys, uuid
d, sid, name, i, k, r, over = sys.argv[1:8]
def img(id, fmt, props=None):
    p = os.path.join(d, "images", id)
    return {"id": id, "name": fmt + "-" + id[:8], "disk_format": fmt,
            "container_format": "bare", "size": os.path.getsize(p),
            "checksum": hashlib.md5(open(p, "rb").read()).hexdigest(), "min_disk": 0,
            "properties": props or {}}
props = {"kernel_id": k, "ramdisk_id": r, "os_command_line": "console=ttyS0 quiet"}
srv = {"id": sid, "name": name, "hostname": name,
       "project_id": str(uuid.UUID(int=1)), "project_name": "demo",
       "user_id": str(uuid.UUID(int=2)), "user_name": "alice",
       "created_at": "2026-11-23T18:00:00Z", "availability_zone": "nova", "launch_index": 0,
       "flavor": {"id": "f1", "name": "tiny", "vcpus": 1, "ram": 128, "disk": 1,
                  "ephemeral": 0, "swap": 0, "extra_specs": {}},
       "image": img(i, "qcow2", props), "kernel": img(k, "aki"), "ramdisk": img(r, "ari"),
       "power": "running", "delete": False, "disk_generation": 1, "config_drive": False,
       "user_data": None, "key": None, "admin_pass": None, "metadata": {},
       "rescue": None, "resize": None, "nics": []}
srv.update(json.loads(over))
print(json.dumps(srv))
EOF
}

flavor_json() { # ID DISK_GB
    printf '{"id": "%s", "name": "%s", "vcpus": 1, "ram": 128, "disk": %s, "ephemeral": 0, "swap": 0, "extra_specs": {}}' "$1" "$1" "$2"
}

start_fc() {
    "$FC" serve "$FCDIR" --host "$HOST" --report-interval 2 "$@" >>"$ST_TMP/fc.log" 2>&1 &
    FC_PID=$!
    ST_PIDS+=("$FC_PID")
    for _ in $(seq 100); do
        [ -s "$FCDIR/port" ] && break
        sleep 0.05
    done
    URL=http://127.0.0.1:$(cat "$FCDIR/port")
}

stop_fc() {
    kill -TERM "$FC_PID" 2>/dev/null
    wait "$FC_PID" 2>/dev/null
    rm -f "$FCDIR/port"
}

# write_conf [EXTRA-DEFAULT-LINE...]
write_conf() {
    {
        printf '[DEFAULT]\nhost = %s\ncredential = %s\nshutdown_timeout = 20\n' "$HOST" "$FCDIR/secret"
        printf '%s\n' "$@"
        printf '[libvirt]\nvirt_type = qemu\n'
    } >"$ST_TMP/agent.conf"
}
write_conf

start_agent() {
    "$AGENT" --data-dir "$DATA" --controller "$URL" --config "$ST_TMP/agent.conf" \
        --log-file "$ST_TMP/agent.log" --log-level debug "$@" 2>>"$ST_TMP/agent.err" &
    AGENT_PID=$!
    ST_PIDS+=("$AGENT_PID")
}

# stop_agent: SIGTERM; the agent must exit 0 within 10 s.
stop_agent() {
    local rc=0 i
    kill -TERM "$AGENT_PID" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        not_ok "the agent stops within 10 s of SIGTERM"
        kill -KILL "$AGENT_PID"
    fi
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=
    check_eq "the agent exits 0 on SIGTERM" 0 "$rc"
}

state_of() { fcx report "$1" | /usr/bin/python3 -c 'import json,sys; e=json.load(sys.stdin); print(e and e.get(sys.argv[1]))' "${2:-state}"; }
dom_state() { virsh -q -c "$LIBVIRT" domstate "instance-$1" 2>/dev/null | head -n 1; }
console() { tr -d '\r' <"$INST/$1/console.log" 2>/dev/null; }
# wait_console ID ERE COUNT TIMEOUT: until the console shows ERE COUNT times.
wait_console() {
    local end=$((SECONDS + $4)) n
    while [ $SECONDS -lt $end ]; do
        n=$(console "$1" | grep -cE -- "$2")
        [ "$n" -ge "$3" ] && return 0
        sleep 0.2
    done
    return 1
}
console_tail() { console "$1" | tail -n 8 | sed 's/^/#   console: /'; }
task() { # KIND SERVER ARGS-JSON: adds a task, prints its id
    local id
    id=$(uuid)
    fcx add-task "{\"id\": \"$id\", \"server_id\": \"$2\", \"kind\": \"$1\", \"args\": $3}"
    echo "$id"
}
# wait_report ID ERE TIMEOUT: until the server's last report entry matches.
wait_report() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        fcx report "$1" | grep -qE -- "$2" && return 0
        sleep 0.2
    done
    return 1
}
wait_state() { # ID STATE TIMEOUT WHAT
    if out=$(fcx wait "$1" "$2" "$3"); then
        ok "$4"
    else
        not_ok "$4"
        echo "#   last report entry: $out"
        tail -n 5 "$ST_TMP/agent.log" | sed 's/^/#   agent: /'
    fi
}
virtual_size() { qemu-img info -f qcow2 --output=json -U "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }

# ------------------------------------------------------------------ boot

mkdir -p "$FCDIR"
start_fc
start_agent
S1=$(uuid)
SERVERS+=("$S1")
t0=$(now)
fcx add-server "$(server_json "$S1" vm1)"
if fcx wait "$S1" running 60 >/dev/null; then
    ok "vm1 reaches running ($(since "$t0") s from the desired state to a running domain)"
else
    not_ok "vm1 reaches running"
    tail -n 20 "$ST_TMP/agent.log" | sed 's/^/#   /'
fi
t1=$(now)
if wait_console "$S1" "^stratus-guest: hostname=vm1 instance-id=$S1 " 1 "$BOOT_TIMEOUT"; then
    ok "vm1 boots: the console shows its hostname and id from the seed ($(since "$t1") s boot to marker)"
else
    not_ok "vm1 boots: the console shows its hostname and id from the seed"
    console_tail "$S1"
fi
check "the guest reads the root disk (overlay of the cached image)" \
    grep -q "disk=testguest" <(console "$S1")
check "registration carries the host's facts" /usr/bin/python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
assert r["virt_type"] == "qemu" and r["hypervisor_type"] == "QEMU" and r["vcpus"] > 0
assert r["memory_mb"] > 0 and r["hypervisor_hostname"] == sys.argv[2] and r["host_ip"]
' "$FCDIR/registrations.jsonl" "$HOST"
check "the root disk is a qcow2 overlay on _base/<image id> with the format given" \
    /usr/bin/python3 -c '
import json, subprocess, sys
i = json.loads(subprocess.check_output(["qemu-img", "info", "-U", "-f", "qcow2", "--output=json", sys.argv[1]]))
assert i["backing-filename"] == sys.argv[2], i
assert i["backing-filename-format"] == "qcow2", i
assert i["virtual-size"] == 1 << 30, i
' "$INST/$S1/disk" "$INST/_base/$I"
check "the instance directory has its seed, domain XML and state" \
    test -s "$INST/$S1/disk.seed" -a -s "$INST/$S1/domain.xml" -a -s "$INST/$S1/state.json"
check_eq "the report says disk generation 1, power state 1" "1 1" \
    "$(state_of "$S1" disk_generation) $(state_of "$S1" power_state)"

# ------------------------------------------------------------------ tasks

id=$(task console_log "$S1" '{"length": 3}')
out=$(fcx wait-task "$id" 30)
check_match "console_log with length 3 returns the last 3 lines" '"status": "done"' "$out"
check_eq "... exactly 3 lines" 3 \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["result"]["output"].splitlines()))')"
id=$(task console_log "$S1" '{}')
out=$(fcx wait-task "$id" 30)
check_match "console_log without length returns the whole log" 'stratus-guest: booting' "$out"

# ------------------------------------------------------------------ power

t0=$(now)
fcx set "$S1" power='"stopped"'
if fcx wait "$S1" shutoff 60 >/dev/null; then
    ok "stop: vm1 is shut off ($(since "$t0") s, a clean shutdown)"
else
    not_ok "stop: vm1 is shut off"
fi
check "stop was a clean ACPI shutdown (the guest ran its shutdown)" \
    grep -q "stratus-guest: shutting down" <(console "$S1")
check_eq "libvirt agrees" "shut off" "$(dom_state "$S1")"
fcx set "$S1" power='"running"'
wait_state "$S1" running 30 "start: vm1 runs again"
if wait_console "$S1" '^stratus-guest: ready' 2 "$BOOT_TIMEOUT"; then
    ok "vm1 boots a second time"
else
    not_ok "vm1 boots a second time"
    console_tail "$S1"
fi

id=$(task reboot "$S1" '{"type": "SOFT"}')
out=$(fcx wait-task "$id" 90)
check_match "a SOFT reboot finishes" '"status": "done"' "$out"
if wait_console "$S1" '^stratus-guest: ready' 3 "$BOOT_TIMEOUT"; then
    ok "vm1 boots after the soft reboot (clean shutdown first)"
else
    not_ok "vm1 boots after the soft reboot"
    console_tail "$S1"
fi
check_eq "the soft reboot shut the guest down cleanly" 2 \
    "$(console "$S1" | grep -c 'stratus-guest: shutting down')"
id=$(task reboot "$S1" '{"type": "HARD"}')
out=$(fcx wait-task "$id" 60)
check_match "a HARD reboot finishes" '"status": "done"' "$out"
if wait_console "$S1" '^stratus-guest: ready' 4 "$BOOT_TIMEOUT"; then
    ok "vm1 boots after the hard reboot"
else
    not_ok "vm1 boots after the hard reboot"
    console_tail "$S1"
fi

# A guest that powers itself off stays off (Nova's power sync sees SHUTOFF).
virsh -q -c "$LIBVIRT" shutdown "instance-$S1" >/dev/null
wait_state "$S1" shutoff 60 "a guest that powered itself off is reported shutoff"
sleep 5
check_eq "... and the agent leaves it off" "shut off" "$(dom_state "$S1")"
fcx set "$S1" power='"stopped"'
sleep 1
fcx set "$S1" power='"running"'
wait_state "$S1" running 30 "start after the controller synced it stopped: runs again"

# A domain removed by hand is made again.
virsh -q -c "$LIBVIRT" destroy "instance-$S1" >/dev/null 2>&1
virsh -q -c "$LIBVIRT" undefine "instance-$S1" >/dev/null 2>&1
sleep 1
wait_state "$S1" running 30 "a domain destroyed and undefined by hand is defined and started again"
check_eq "libvirt has it running" running "$(dom_state "$S1")"

# ------------------------------------------------------------------ pause, suspend

fcx set "$S1" power='"paused"'
wait_state "$S1" paused 30 "pause: vm1 is paused"
check_eq "pause: libvirt agrees" paused "$(dom_state "$S1")"
fcx set "$S1" power='"suspended"'
wait_state "$S1" suspended 60 "suspend: vm1 is suspended (managed save, power state 7)"
check_eq "suspend: the domain is off with a saved image" "shut off 7" \
    "$(dom_state "$S1") $(state_of "$S1" power_state)"
n_ready=$(console "$S1" | grep -c '^stratus-guest: ready')
fcx set "$S1" power='"running"'
wait_state "$S1" running 60 "resume: vm1 runs again from its saved memory"
sleep 2
check_eq "resume: the guest did not boot again" "$n_ready" \
    "$(console "$S1" | grep -c '^stratus-guest: ready')"

# ------------------------------------------------------------------ failures

# A server whose image cannot be fetched, and one whose image does not match
# its checksum, fail alone: each is "error" with a fault, vm1 runs on.
S3=$(uuid)
S4=$(uuid)
SERVERS+=("$S3" "$S4")
MISSING=$(uuid)
cp "$FCDIR/images/$I" "$FCDIR/images/$MISSING"
fcx add-server "$(server_json "$S3" vm3 "$MISSING")"
rm -f "$FCDIR/images/$MISSING"
BADSUM=$(uuid)
cp "$FCDIR/images/$I" "$FCDIR/images/$BADSUM"
fcx add-server "$(server_json "$S4" vm4 "$BADSUM" "{\"disk_generation\": 1}" |
    /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); s["image"]["checksum"]="0"*32; print(json.dumps(s))')"
wait_state "$S3" error 30 "an image the controller does not have: error"
check_match "... with the controller's message as the fault" "No image found with ID $MISSING" \
    "$(fcx report "$S3")"
wait_state "$S4" error 30 "an image that does not match its checksum: error"
check_match "... with a checksum fault" "checksum mismatch" "$(fcx report "$S4")"
check "... and nothing is cached for it" test ! -e "$INST/_base/$BADSUM"
check_eq "vm1 runs on" running "$(state_of "$S1")"
fcx set "$S3" delete=true
fcx set "$S4" delete=true
if fcx wait-gone "$S3" 30 && fcx wait-gone "$S4" 30; then
    ok "failed servers can be deleted"
else
    not_ok "failed servers can be deleted"
fi

# ------------------------------------------------------------------ snapshot

IMG=$(uuid)
id=$(task snapshot "$S1" "{\"image_id\": \"$IMG\"}")
out=$(fcx wait-task "$id" 120)
check_match "a snapshot finishes" '"status": "done"' "$out"
check "the uploaded snapshot is a standalone qcow2 of 1 GiB" /usr/bin/python3 -c '
import json, subprocess, sys
i = json.loads(subprocess.check_output(["qemu-img", "info", "-f", "qcow2", "--output=json", sys.argv[1]]))
assert "backing-filename" not in i and i["virtual-size"] == 1 << 30, i
' "$FCDIR/uploads/$IMG"
check_eq "the guest runs on after the snapshot" running "$(dom_state "$S1")"

# ------------------------------------------------------------------ rebuild

fcx set "$S1" disk_generation=2
if wait_report "$S1" '"disk_generation": 2, .*"state": "running"' 60; then
    ok "rebuild (disk generation 2) converges to running"
else
    not_ok "rebuild (disk generation 2) converges to running"
    echo "#   last report entry: $(fcx report "$S1")"
fi
if wait_console "$S1" '^stratus-guest: ready' 5 "$BOOT_TIMEOUT"; then
    ok "vm1 boots from its rebuilt disk"
else
    not_ok "vm1 boots from its rebuilt disk"
    console_tail "$S1"
fi

# ------------------------------------------------------------------ resize

fcx set "$S1" flavor="$(flavor_json f2 2)" resize="{\"state\": \"resizing\", \"old_flavor\": $(flavor_json f1 1)}"
wait_report "$S1" '"resize": "resized"' 90
check_match "resize: reported resized" '"resize": "resized"' "$(fcx report "$S1")"
check_eq "resize: the root disk grew to 2 GiB" $((2 << 30)) "$(virtual_size "$INST/$S1/disk")"
check "resize: the old disk is kept for a revert" test -s "$INST/$S1/disk.resize"
fcx set "$S1" resize="{\"state\": \"confirming\", \"old_flavor\": $(flavor_json f1 1)}"
wait_report "$S1" '"confirmed"' 30
check_match "resize confirm: reported confirmed" '"resize": "confirmed"' "$(fcx report "$S1")"
check "resize confirm: the backup is gone" test ! -e "$INST/$S1/disk.resize"
fcx set "$S1" resize=null
fcx set "$S1" flavor="$(flavor_json f3 3)" resize="{\"state\": \"resizing\", \"old_flavor\": $(flavor_json f2 2)}"
wait_report "$S1" '"resized"' 90
check_eq "second resize: the root disk grew to 3 GiB" $((3 << 30)) "$(virtual_size "$INST/$S1/disk")"
fcx set "$S1" resize="{\"state\": \"reverting\", \"old_flavor\": $(flavor_json f2 2)}"
wait_report "$S1" '"reverted"' 60
check_match "resize revert: reported reverted" '"resize": "reverted"' "$(fcx report "$S1")"
check_eq "resize revert: the 2 GiB disk is back" $((2 << 30)) "$(virtual_size "$INST/$S1/disk")"
check_match "resize revert: the domain has the old flavor again" '<nova:flavor name="f2">' \
    "$(cat "$INST/$S1/domain.xml")"
fcx set "$S1" flavor="$(flavor_json f2 2)" resize=null
wait_state "$S1" running 60 "after the revert vm1 runs"

# ------------------------------------------------------------------ rescue

fcx set "$S1" rescue="{\"image\": $(server_json "$S1" x | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["image"]))'), \"kernel\": null, \"ramdisk\": null}"
wait_report "$S1" '"rescued": true' 60
check_eq "rescue: reported rescued" True "$(state_of "$S1" rescued)"
check "rescue: the rescue disk exists and the domain boots it first" \
    grep -q "$INST/$S1/disk.rescue" "$INST/$S1/domain.xml"
check_eq "rescue: the guest runs" running "$(dom_state "$S1")"
fcx set "$S1" rescue=null
wait_report "$S1" '"rescued": false' 60
check_eq "unrescue: reported not rescued" False "$(state_of "$S1" rescued)"
check "unrescue: the rescue disk is gone" test ! -e "$INST/$S1/disk.rescue"

# ------------------------------------------------------------------ crash safety

# A slow image source: while the agent waits for it, the heartbeat says
# "building"; then the agent is killed in the middle of the download.
stop_fc
start_fc --image-delay 8
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
start_agent
S2=$(uuid)
SERVERS+=("$S2")
fcx add-server "$(server_json "$S2" vm2 "$I2" '{"config_drive": true, "user_data": "IyEvYmluL3NoCmVjaG8gaGVsbG8K", "flavor": {"id": "f4", "name": "eph", "vcpus": 1, "ram": 128, "disk": 1, "ephemeral": 1, "swap": 16, "extra_specs": {}}}')"
if fcx wait "$S2" building 7 >/dev/null; then
    ok "a slow build is reported building by the heartbeat"
else
    not_ok "a slow build is reported building by the heartbeat"
fi
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check "SIGKILL in the middle of a build leaves a partial download, never a base" \
    test ! -e "$INST/_base/$I2"
stop_fc
start_fc
start_agent
wait_state "$S2" running 60 "after the restart vm2 is built and runs"
if wait_console "$S2" "^stratus-guest: hostname=vm2 .* userdata=ok seed=configdrive" 1 "$BOOT_TIMEOUT"; then
    ok "vm2 boots from a config drive and runs its user data"
else
    not_ok "vm2 boots from a config drive and runs its user data"
    console_tail "$S2"
fi
check "vm2 has its ephemeral and swap disks" \
    test -s "$INST/$S2/disk.local" -a -s "$INST/$S2/disk.swap" -a -s "$INST/$S2/disk.config"
check "... attached to its domain" grep -q "$INST/$S2/disk.swap" <(virsh -q -c "$LIBVIRT" domblklist "instance-$S2")
check "no partial download is left" test -z "$(ls "$INST/_base" | grep -E '\.(part|tmp)$')"
check_eq "vm1 kept running across the agent's crash" running "$(dom_state "$S1")"

# ------------------------------------------------------------------ leftovers

stop_agent
fcx remove-server "$S2"
STRAY=$(uuid)
mkdir -p "$INST/$STRAY"
touch "$INST/$STRAY/disk"
start_agent
for _ in $(seq 100); do
    [ ! -d "$INST/$S2" ] && [ ! -d "$INST/$STRAY" ] && break
    sleep 0.2
done
check "the domain of a server deleted while the agent was down is removed" \
    test -z "$(virsh -q -c "$LIBVIRT" list --all --name | grep "instance-$S2")"
check "its instance directory is removed" test ! -e "$INST/$S2"
check "a stray instance directory is removed" test ! -e "$INST/$STRAY"
check_match "the removed server was reported gone" "\"id\": \"$S2\", \"power_state\": 0, \"rescued\": false, \"resize\": null, \"state\": \"gone\"" \
    "$(grep -h "$S2" "$FCDIR/reports.jsonl" | tail -n 1 | /usr/bin/python3 -c 'import json,sys; print([json.dumps(s, sort_keys=True) for s in json.load(sys.stdin)["servers"] if s["id"] == sys.argv[1]][0])' "$S2")"

# ------------------------------------------------------------------ delete

fcx set "$S1" delete=true
if fcx wait-gone "$S1" 60; then
    ok "delete: vm1 is reported gone"
else
    not_ok "delete: vm1 is reported gone"
fi
check "delete: the domain is undefined" \
    test -z "$(virsh -q -c "$LIBVIRT" list --all --name | grep "instance-$S1")"
check "delete: the instance directory is removed" test ! -e "$INST/$S1"
check "delete: the cached images stay" test -s "$INST/_base/$I"

# ------------------------------------------------------------------ cache, --once

stop_agent
write_conf "base_image_unused_seconds = 0"
rc=0
"$AGENT" --data-dir "$DATA" --controller "$URL" --config "$ST_TMP/agent.conf" --once \
    --log-file "$ST_TMP/agent-once.log" 2>>"$ST_TMP/agent.err" || rc=$?
check_eq "--once does one pass and exits 0" 0 "$rc"
check_eq "unused cached images are removed after the grace period" "" "$(ls "$INST/_base")"
check "--once reported" test "$(grep -c . "$FCDIR/reports.jsonl")" -gt 0

# ------------------------------------------------------------------ end

check "the agent logged no error it should not have" \
    test -z "$(grep -E ' ERROR ' "$ST_TMP/agent.log" | grep -v -e 'controller:' -e "$S3" -e "$S4")"
sanitizer_clean
done_testing
