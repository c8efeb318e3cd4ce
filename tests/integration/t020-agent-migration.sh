#!/usr/bin/env bash
# t020-agent-migration.sh - the agent's side of migration between hosts
# (docs/agent-protocol.md "Migration"), with two simulated hosts
# (scripts/sim-hosts: each its own network namespace and libvirtd, TLS
# between them) whose agents each talk to a fake controller
# (tests/agent/fake-controller.py, one per host, sharing the migration
# files directory), real libvirt and QEMU (TCG) and the test guest.  The
# test plays the controller: it moves the desired states on as the
# reports say.  Prints TAP.
#
# What it proves:
#  - cold migration: the source shuts the guest down and uploads its disk,
#    the destination fetches it (SHA-256 checked), rebases it onto its own
#    cached image and boots it: a marker the guest wrote on its disk before
#    is read back there; revert (destination cleans up, source restores)
#    and confirm (source cleans up);
#  - live migration (peer-to-peer over qemu+tls, QEMU native TLS, NBD
#    copy of the local disk): progress reported while running, the guest
#    keeps running (its uptime goes on, no new boot), the source domain is
#    gone, the destination adopts it without redefining it;
#  - abort of a live migration: cancelled, the guest still on the source;
#  - fencing: a host whose server was evacuated (no longer in its desired
#    state) removes its stopped old domain when its agent comes back,
#    without starting it.
#
# Needs root, libvirtd, QEMU and openssl.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FC=$ST_TOP/tests/agent/fake-controller.py
GUEST=${STRATUS_GUEST_DIR:-$ST_TOP/build/guest}
[ -s "$GUEST/vmlinuz" ] || GUEST=/work/main/build/guest
AGENT=$ST_BUILD/stratus-agent
NAME=t020
SUBNET=198.18.20
SIM=$ST_TMP/sim
MIGDIR=$ST_TMP/migfiles

plan 43

bail() {
    echo "Bail out! $*"
    exit 1
}
[ "$(id -u)" = 0 ] || bail "needs root"
[ -x "$AGENT" ] || bail "no $AGENT (build it first)"
[ -s "$GUEST/vmlinuz" ] && [ -s "$GUEST/disk.qcow2" ] || bail "no test guest in $GUEST (tests/guest/build)"
chmod 0755 "$ST_TMP"
trap st_cleanup EXIT

uuid() { /usr/bin/python3 -c 'import uuid; print(uuid.uuid4())'; }
fc() { local c=$1 i=$2; shift 2; "$FC" "$c" "$ST_TMP/fc$i" "$@"; }
hd() { echo "$SIM/$1"; }
vsh() { local i=$1; shift; virsh -q -c "qemu+unix:///system?socket=$SIM/$i/run/libvirt/libvirt-sock" "$@"; }
domstate() { vsh "$1" domstate "instance-$2" 2>/dev/null | head -n 1; }
console() { { tr -d '\r' <"$(hd "$1")/instances/$2/console.log"; } 2>/dev/null; }
wait_console() { # HOST ID ERE TIMEOUT
    local end=$((SECONDS + $4))
    while [ $SECONDS -lt $end ]; do
        console "$1" "$2" | grep -qE -- "$3" && return 0
        sleep 0.3
    done
    return 1
}
agent_tail() { tail -n 8 "$(hd "$1")/agent.log" | sed 's/^/#   agent '"$1"': /'; }
# wait_srv HOST ID EXPR WHAT [TIMEOUT]: the host's last report entry 's' of
# the server makes EXPR true; prints the entry on stdout (JSON) into $ENTRY.
ENTRY=
wait_srv() {
    if ENTRY=$(fc wait-server "$1" "$2" "$3" "${5:-60}"); then
        ok "$4"
    else
        not_ok "$4"
        echo "#   last report entry: $ENTRY" | cut -c1-600
        agent_tail "$1"
    fi
}
jget() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

start_agent() { # I
    local i=$1 d
    d=$(hd "$i")
    nsenter --net="/run/netns/stsim-$NAME-$i" "$AGENT" --data-dir "$d/data" \
        --controller "http://$SUBNET.1:$(cat "$ST_TMP/fc$i/port")" --host "$NAME-$i" \
        --credential "$ST_TMP/fc$i/secret" --config "$d/agent.conf" --log-file "$d/agent.log" \
        </dev/null >>"$d/agent.err" 2>&1 &
    echo $! >"$d/agent.pid"
}
kill_agent() { # I
    local pid
    pid=$(cat "$(hd "$1")/agent.pid")
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# ------------------------------------------------------------------ set-up

# st_cleanup stops the simulated hosts (and keeps their logs on failure).
export ST_SIM_STATE=$SIM ST_SIM_NAME=$NAME
"$ST_TOP/scripts/sim-hosts" net --name $NAME --subnet $SUBNET --state-dir "$SIM" >/dev/null ||
    bail "no underlay bridge"
started=$("$ST_TOP/scripts/sim-hosts" start 2 --no-agents --name $NAME --subnet $SUBNET \
    --state-dir "$SIM" 2>&1)
check_eq "two simulated hosts with their own libvirtd" "$NAME-1 $SUBNET.11 $NAME-2 $SUBNET.12" \
    "$(echo $started)"
check_eq "their libvirtds have distinct host UUIDs" 2 \
    "$(for i in 1 2; do vsh $i capabilities | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1; done | sort -u | grep -c .)"
P1=$(cat "$SIM/1/libvirtd.pid")
check_eq "host 1's libvirtd reaches host 2's over qemu+tls with its client certificate" "$(hostname)" \
    "$(nsenter -t "$P1" -m -n virsh -q -c "qemu+tls://$SUBNET.12/system" hostname 2>&1 | head -n 1)"

I=$(uuid) K=$(uuid) R=$(uuid)
mkdir -p "$MIGDIR"
for i in 1 2; do
    mkdir -p "$ST_TMP/fc$i/images"
    cp "$GUEST/vmlinuz" "$ST_TMP/fc$i/images/$K"
    cp "$GUEST/initrd.img" "$ST_TMP/fc$i/images/$R"
    cp "$GUEST/disk.qcow2" "$ST_TMP/fc$i/images/$I"
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$ST_TMP/fc$i/secret"
    "$FC" serve "$ST_TMP/fc$i" --host "$NAME-$i" --report-interval 2 --listen "$SUBNET.1" \
        --migrations-dir "$MIGDIR" >>"$ST_TMP/fc$i.log" 2>&1 &
    ST_PIDS+=("$!")
    d=$(hd "$i")
    cat >"$d/agent.conf" <<CONF
[DEFAULT]
instances_path = $d/instances
report_interval = 2
shutdown_timeout = 15
[libvirt]
uri = qemu+unix:///system?socket=$d/run/libvirt/libvirt-sock
virt_type = qemu
[network]
local_ip = $SUBNET.$((10 + i))
CONF
done
for i in 1 2; do
    for _ in $(seq 100); do [ -s "$ST_TMP/fc$i/port" ] && break; sleep 0.05; done
    start_agent "$i"
done
for i in 1 2; do
    for _ in $(seq 150); do [ -s "$ST_TMP/fc$i/last-report.json" ] && break; sleep 0.1; done
done
check "both agents register and report to their controllers" \
    test -s "$ST_TMP/fc1/last-report.json" -a -s "$ST_TMP/fc2/last-report.json"
H1_ID=$(cat "$ST_TMP/fc1/host_id") H2_ID=$(cat "$ST_TMP/fc2/host_id")

image_json() { # ID FMT [PROPS]
    /usr/bin/python3 - "$ST_TMP/fc1" "$1" "$2" "${3:-{\}}" <<'EOF'
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

# The guest: on its first boot it writes a random marker on its disk, on
# later boots it prints the one it finds; and it prints its uptime every
# half second (the live migration must not restart it).
cat >"$ST_TMP/ud.sh" <<'EOF'
#!/bin/sh
if [ -f /mnt/disk/t020-marker ]; then
	echo "t020: found marker $(cat /mnt/disk/t020-marker)"
else
	echo "m$(cat /proc/sys/kernel/random/uuid | tr -d -)" >/mnt/disk/t020-marker
	sync
	echo "t020: wrote marker $(cat /mnt/disk/t020-marker)"
fi
(while :; do echo "t020: up $(cut -d' ' -f1 /proc/uptime)"; sleep 0.5; done) </dev/null >/dev/console 2>&1 &
exit 0
EOF
A=$(uuid)
SRV=$(/usr/bin/python3 - "$A" "$ST_TMP/ud.sh" "$IMG" "$KIMG" "$RIMG" <<'EOF'
import base64, json, sys, uuid
sid, udf, img, k, r = sys.argv[1:6]
print(json.dumps({"id": sid, "name": "mig", "hostname": "mig",
       "project_id": str(uuid.UUID(int=1)), "project_name": "demo",
       "user_id": str(uuid.UUID(int=2)), "user_name": "alice",
       "created_at": "2026-12-03T18:00:00Z", "availability_zone": "nova", "launch_index": 0,
       "flavor": {"id": "f1", "name": "tiny", "vcpus": 1, "ram": 160, "disk": 1,
                  "ephemeral": 0, "swap": 0, "extra_specs": {}},
       "image": json.loads(img), "kernel": json.loads(k), "ramdisk": json.loads(r),
       "power": "running", "delete": False, "disk_generation": 1, "config_drive": False,
       "user_data": base64.b64encode(open(udf, "rb").read()).decode(), "key": None,
       "admin_pass": None, "metadata": {}, "rescue": None, "resize": None, "nics": [],
       "volumes": []}))
EOF
)
# mig ID KIND ROLE STATE PEER_INDEX [EXTRA-JSON-MEMBERS]: a migration object
mig() {
    local peer_id
    [ "$5" = 1 ] && peer_id=$H1_ID || peer_id=$H2_ID
    echo "{\"id\": \"$1\", \"kind\": \"$2\", \"role\": \"$3\", \"state\": \"$4\", \"peer\": {\"host\": \"$NAME-$5\", \"host_id\": \"$peer_id\", \"address\": \"$SUBNET.1$5\"}${6:+, $6}}"
}

# ------------------------------------------------------------------ cold migration, revert

fc add-server 1 "$SRV"
wait_srv 1 "$A" "s['state'] == 'running'" "the server runs on host 1" 90
if wait_console 1 "$A" 't020: wrote marker m[0-9a-f]+' 120; then
    MARKER=$(console 1 "$A" | sed -n 's/^t020: wrote marker \(m[0-9a-f]*\).*/\1/p' | head -n 1)
    ok "the guest wrote its marker on its disk ($MARKER)"
else
    not_ok "the guest wrote its marker on its disk"
    MARKER=none
fi

M1=$(uuid)
t0=$SECONDS
fc set 1 "$A" "migration=$(mig "$M1" cold source export 2)"
wait_srv 1 "$A" "s['migration']['state'] == 'exported' and s['migration']['files'][0]['name'] == 'disk'" \
    "cold: the source exports (clean shutdown, disk uploaded)" 90
FILES=$(jget "$ENTRY" 'json.dumps(d["migration"]["files"])')
check_eq "cold: the source keeps its domain defined and shut off" "shut off" "$(domstate 1 "$A")"
check_eq "cold: the uploaded file is the disk, with its SHA-256" \
    "$(sha256sum "$(hd 1)/instances/$A/disk" | cut -d' ' -f1)" "$(jget "$FILES" 'd[0]["sha256"]')"
fc set 1 "$A" "migration=$(mig "$M1" cold source hold 2)"
fc add-server 2 "$(jget "$SRV" "json.dumps(dict(d, migration=json.loads('''$(mig "$M1" cold dest import 1 "\"files\": $FILES")''')))")"
wait_srv 2 "$A" "s['migration']['state'] == 'imported' and s['state'] == 'running'" \
    "cold: the destination imports and runs the server" 120
diag "cold migration (export, import, boot) took $((SECONDS - t0)) s"
check_match "cold: the destination's disk is rebased onto its own _base" \
    "backing file: $(hd 2)/instances/_base/$I" "$(qemu-img info -U "$(hd 2)/instances/$A/disk" 2>&1)"
if wait_console 2 "$A" "t020: found marker $MARKER" 120; then
    ok "cold: the guest on host 2 reads the marker it wrote on host 1"
else
    not_ok "cold: the guest on host 2 reads the marker it wrote on host 1"
    console 2 "$A" | tail -n 5 | sed 's/^/#   console: /'
fi
check_eq "cold: the source still holds its stopped domain" "shut off" "$(domstate 1 "$A")"
# revert: the destination cleans up, the source restores
fc set 2 "$A" "migration=$(mig "$M1" cold dest cleanup 1)"
wait_srv 2 "$A" "s['state'] == 'gone' and s['migration']['state'] == 'cleaned'" \
    "revert: the destination removes its copy" 60
check_eq "revert: no domain or directory left on host 2" "|no" \
    "$(domstate 2 "$A")|$([ -e "$(hd 2)/instances/$A" ] && echo yes || echo no)"
fc remove-server 2 "$A"
fc set 1 "$A" "migration=$(mig "$M1" cold source restore 2)"
wait_srv 1 "$A" "s['migration']['state'] == 'restored' and s['state'] == 'running'" \
    "revert: the source restores and runs the server" 90
fc set 1 "$A" "migration=null"
if wait_console 1 "$A" "t020: found marker $MARKER" 120; then
    ok "revert: the guest on host 1 boots its own disk again"
else
    not_ok "revert: the guest on host 1 boots its own disk again"
fi

# ------------------------------------------------------------------ cold migration, confirm

M2=$(uuid)
fc set 1 "$A" "migration=$(mig "$M2" cold source export 2)"
sleep 1
kill_agent 1 # SIGKILL in the middle: the next agent converges
start_agent 1
wait_srv 1 "$A" "s['migration']['state'] == 'exported'" \
    "confirm: the source exports again, across a SIGKILL of its agent" 90
FILES=$(jget "$ENTRY" 'json.dumps(d["migration"]["files"])')
fc set 1 "$A" "migration=$(mig "$M2" cold source hold 2)"
fc add-server 2 "$(jget "$SRV" "json.dumps(dict(d, migration=json.loads('''$(mig "$M2" cold dest import 1 "\"files\": $FILES")''')))")"
sleep 0.5
kill_agent 2
start_agent 2
wait_srv 2 "$A" "s['migration']['state'] == 'imported' and s['state'] == 'running'" \
    "confirm: the destination runs the server, across a SIGKILL of its agent" 120
fc set 2 "$A" "migration=null"
fc set 1 "$A" "migration=$(mig "$M2" cold source cleanup 2)"
wait_srv 1 "$A" "s['state'] == 'gone' and s['migration']['state'] == 'cleaned'" \
    "confirm: the source removes its copy" 60
fc remove-server 1 "$A"
check_eq "confirm: nothing left on host 1, the server runs on host 2" "|no|running" \
    "$(domstate 1 "$A")|$([ -e "$(hd 1)/instances/$A" ] && echo yes || echo no)|$(domstate 2 "$A")"
wait_console 2 "$A" "t020: found marker $MARKER" 120 >/dev/null

# ------------------------------------------------------------------ live migration 2 -> 1

wait_console 2 "$A" "t020: up " 60
M3=$(uuid)
fc add-server 1 "$(jget "$SRV" "json.dumps(dict(d, migration=json.loads('''$(mig "$M3" live dest prepare 2)''')))")"
wait_srv 1 "$A" "s['migration']['state'] == 'prepared' and s['migration']['dest_uri'] == 'qemu+tls://$SUBNET.11/system'" \
    "live: the destination prepares (disks, seed, its domain XML, qemu+tls URI)" 90
PREP=$ENTRY
check_match "live: the destination's XML has its own paths and owner mark" \
    "$(hd 1)/instances/$A/disk.*$H1_ID|$H1_ID.*$(hd 1)/instances/$A/disk" \
    "$(jget "$PREP" 'd["migration"]["dest_xml"]' | tr -d '\n')"
check_eq "live: the destination defines nothing before the guest arrives" "" "$(domstate 1 "$A")"
UP_BEFORE=$(console 2 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | tail -n 1)
LINES1=$(wc -l <"$(hd 1)/agent.log")
# libvirt's figures of the finished job (downtime), from the source's event.
vsh 2 event --domain "instance-$A" --event job-completed --timeout 120 >"$ST_TMP/jobev.txt" 2>&1 &
EVPID=$!
t0=$(date +%s.%N)
fc set 2 "$A" "migration=$(mig "$M3" live source migrate 1 "\"block_migration\": true, \"dest_xml\": $(jget "$PREP" 'json.dumps(d["migration"]["dest_xml"])'), \"dest_uri\": \"$(jget "$PREP" 'd["migration"]["dest_uri"]')\", \"migrate_uri\": \"$(jget "$PREP" 'd["migration"]["migrate_uri"]')\"")"
wait_srv 2 "$A" "s['migration']['state'] in ('completed', 'failed', 'cancelled')" \
    "live: the source's migration ends" 120
check_eq "live: it completed" completed "$(jget "$ENTRY" 'd["migration"]["state"] + d["migration"].get("error", "")')"
LIVE_S=$(echo "$(date +%s.%N) - $t0" | bc)
check "live: progress was reported while it ran (memory and disk totals)" \
    grep -q '"state": "running", "progress": {[^}]*"memory_total_bytes": [1-9][^}]*"disk_total_bytes": [1-9]' \
    "$ST_TMP/fc2/reports.jsonl"
check_eq "live: the guest runs on host 1, the source domain is gone" "running|" \
    "$(domstate 1 "$A")|$(domstate 2 "$A")"
for _ in $(seq 50); do kill -0 "$EVPID" 2>/dev/null || break; sleep 0.1; done
kill "$EVPID" 2>/dev/null
wait "$EVPID" 2>/dev/null
DOWNTIME=$(sed -n 's/^[[:space:]]*downtime: *\([0-9]*\).*/\1/p' "$ST_TMP/jobev.txt" | head -n 1)
diag "live migration: $LIVE_S s from the request to the report of its end; downtime ${DOWNTIME:-?} ms (libvirt); $(grep -o 'live migration completed in [0-9.]* s' "$(hd 2)/agent.log" | tail -n 1)"
sleep 2
UP_FIRST=$(console 1 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | head -n 1)
UP_AFTER=$(console 1 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | tail -n 1)
check_eq "live: the same boot goes on (uptime $UP_BEFORE s last seen on host 2, ${UP_FIRST:-?} s first on host 1, ${UP_AFTER:-?} s 2 s later; no boot on host 1)" \
    "yes 0" "$(echo "${UP_FIRST:-0} >= ${UP_BEFORE:-1} && ${UP_AFTER:-0} > ${UP_FIRST:-0}" | bc | sed 's/1/yes/;s/0/no/') $(console 1 "$A" | grep -c 'stratus-guest: booting')"
# the controller moves on: the destination adopts, the source cleans up
fc set 1 "$A" "migration=null"
fc set 2 "$A" "migration=$(mig "$M3" live source cleanup 1)"
wait_srv 2 "$A" "s['state'] == 'gone' and s['migration']['state'] == 'cleaned'" \
    "live: the source cleans up" 60
fc remove-server 2 "$A"
wait_srv 1 "$A" "s['state'] == 'running' and 'migration' not in s" \
    "live: the destination adopts the running guest" 30
sleep 3
UP_ADOPT=$(console 1 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | tail -n 1)
check_eq "live: ... without redefining or restarting it (uptime ${UP_ADOPT:-?} s)" "0 yes" \
    "$(tail -n +"$LINES1" "$(hd 1)/agent.log" | grep -c "server '$A': domain instance-$A defined\|server '$A': started") $(echo "${UP_ADOPT:-0} > ${UP_AFTER:-0}" | bc | sed 's/1/yes/;s/0/no/')"
check_eq "live: no directory left on host 2" no "$([ -e "$(hd 2)/instances/$A" ] && echo yes || echo no)"

# ------------------------------------------------------------------ live migration 1 -> 2, aborted

M4=$(uuid)
fc add-server 2 "$(jget "$SRV" "json.dumps(dict(d, migration=json.loads('''$(mig "$M4" live dest prepare 1)''')))")"
wait_srv 2 "$A" "s['migration']['state'] == 'prepared'" "abort: the destination prepares" 90
PREP=$ENTRY
UP_BEFORE=$(console 1 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | tail -n 1)
# Slow enough to be aborted while it runs: 2 MiB/s.
vsh 1 migrate-setspeed "instance-$A" 2 >/dev/null
fc set 1 "$A" "migration=$(mig "$M4" live source migrate 2 "\"block_migration\": true, \"dest_xml\": $(jget "$PREP" 'json.dumps(d["migration"]["dest_xml"])'), \"dest_uri\": \"$(jget "$PREP" 'd["migration"]["dest_uri"]')\", \"migrate_uri\": \"$(jget "$PREP" 'd["migration"]["migrate_uri"]')\"")"
fc wait-server 1 "$A" "s['migration']['state'] == 'running'" 30 >/dev/null
fc set 1 "$A" "migration=$(mig "$M4" live source migrate 2 "\"abort\": true, \"block_migration\": true, \"dest_xml\": $(jget "$PREP" 'json.dumps(d["migration"]["dest_xml"])'), \"dest_uri\": \"$(jget "$PREP" 'd["migration"]["dest_uri"]')\", \"migrate_uri\": \"$(jget "$PREP" 'd["migration"]["migrate_uri"]')\"")"
wait_srv 1 "$A" "s['migration']['state'] in ('cancelled', 'completed', 'failed')" \
    "abort: the source's migration ends" 60
check_eq "abort: it is cancelled, the guest still runs on host 1, nothing runs on host 2" \
    "cancelled running " "$(jget "$ENTRY" 'd["migration"]["state"]') $(domstate 1 "$A") $(domstate 2 "$A")"
fc set 2 "$A" "migration=$(mig "$M4" live dest cleanup 1)"
wait_srv 2 "$A" "s['state'] == 'gone' and s['migration']['state'] == 'cleaned'" \
    "abort: the destination cleans up" 60
fc remove-server 2 "$A"
fc set 1 "$A" "migration=null"
sleep 2
UP_AFTER=$(console 1 "$A" | sed -n 's/^t020: up \([0-9.]*\).*/\1/p' | tail -n 1)
check_eq "abort: the guest's boot goes on on host 1" "yes" \
    "$(echo "${UP_AFTER:-0} > ${UP_BEFORE:-0}" | bc | sed 's/1/yes/;s/0/no/')"

# ------------------------------------------------------------------ fencing after evacuation

kill_agent 1
vsh 1 destroy "instance-$A" >/dev/null 2>&1
fc remove-server 1 "$A" # evacuated meanwhile: no longer this host's
LINES=$(wc -l <"$(hd 1)/agent.log")
start_agent 1
for _ in $(seq 100); do
    [ -z "$(domstate 1 "$A")" ] && break
    sleep 0.2
done
check_eq "fencing: the host that comes back removes its old domain" "|no" \
    "$(domstate 1 "$A")|$([ -e "$(hd 1)/instances/$A" ] && echo yes || echo no)"
check_eq "fencing: ... without ever starting it" "0" \
    "$(tail -n +"$LINES" "$(hd 1)/agent.log" | grep -c "server '$A': started")"
check "fencing: the old copy is reported gone" grep -q "\"id\": \"$A\", \"state\": \"gone\"" "$ST_TMP/fc1/reports.jsonl"
check_eq "no domain autostarts on either host" "" "$(vsh 1 list --all --autostart --name; vsh 2 list --all --autostart --name)"

kill -TERM "$(cat "$(hd 1)/agent.pid")" "$(cat "$(hd 2)/agent.pid")" 2>/dev/null
sleep 2
check_eq "no sanitizer report from the agents" "" \
    "$(cat "$ST_TMP"/asan* "$ST_TMP"/ubsan* "$SIM"/*/agent.err 2>/dev/null | grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' | head -n 3)"
done_testing
