#!/bin/bash
# t022 - evacuation of a server with volumes, end to end: Debian's openstack
# CLI against stratusd and three hosts simulated on this machine
# (scripts/sim-hosts), tgtd serving iSCSI to them on the underlay bridge's
# address.
#
# A volume made from the test image lives on the first host; the test guest
# boots from it on the second host (over iSCSI, with CHAP), and its
# user-data writes a marker on that root file system on the first boot
# (T022-MARK-WRITTEN), prints it on later boots (T022-MARK-SEEN) and counts
# its boots there (T022-BOOTS N).  A second volume, on the second host
# itself, is attached too.
#
#   - the second host crashes (its agent killed, its domain destroyed),
#     compute service set --down; server evacuate is refused (409): the
#     volume on the crashed host cannot follow;
#   - server remove volume of that one (its detach cannot finish on the dead
#     host: the evacuation ends it), server evacuate: ACTIVE on the third
#     host, booted from the same volume (its marker seen, second boot) over
#     a new iSCSI attachment (a new target, the old one gone), the volume
#     in-use by the server, the detached one available;
#   - the crashed host's agent comes back and removes its old copy; nothing
#     is left on any host: domain, instance directory, volume file, target.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
    { echo "1..0 # SKIP tgt is not installed (scripts/install-deps)"; exit 0; }
UL=198.18.22
H1=t022-1 H2=t022-2 H3=t022-3
# tgtd has one control socket per machine.  The hosts' QEMUs reach it from
# their namespaces on the underlay bridge's address: a tgtd already running
# must listen on every address; else this test starts one there.
TGTD_STARTED=0 PORTAL_PORT=
if tgtadm --lld iscsi --mode system --op show >/dev/null 2>&1; then
    PORTAL_PORT=$(ss -ltnpH 2>/dev/null |
        awk '/"tgtd"/ && ($4 ~ /^(0\.0\.0\.0|\*|\[::\]):/) { split($4, a, ":"); print a[length(a)]; exit }')
    [ -n "$PORTAL_PORT" ] ||
        { echo "1..0 # SKIP a tgtd runs that does not listen on every address"; exit 0; }
fi
plan 36
stop_tgtd() {
    [ "$TGTD_STARTED" = 1 ] || return 0
    tgtadm --lld iscsi --mode system --op delete >/dev/null 2>&1
    TGTD_STARTED=0
}
trap 'st_cleanup; stop_tgtd' EXIT
targets() { tgtadm --lld iscsi --mode target --op show 2>/dev/null | grep -o 'invalid.stratus:[0-9a-f-]*' | sort | tr '\n' ' '; }
# The polls between the CLI's actions are API calls (curl).
api() { # METHOD PATH [curl args]: the body
    curl -s -X "$1" -H "X-Auth-Token: $ST_TOKEN" -H 'OpenStack-API-Version: compute latest' \
        -H 'Content-Type: application/json' "${@:3}" "$ST_URL$2"
}
vm_show() { api GET "/compute/v2.1/servers/$ID" | jq -c .server; }
vm_field() { jq -r --arg k "$1" '.[$k] | tostring' <<<"$VM"; }
wait_vm() { # STATUS [SECONDS] [HOST-NOT]: leaves the server in $VM
    for _ in $(seq $((${2:-180} * 4))); do
        VM=$(vm_show)
        if [ "$(vm_field status)" = "$1" ] && [ "$(vm_field OS-EXT-SRV-ATTR:host)" != "${3:-}" ]; then
            return 0
        fi
        [ "$(vm_field status)" = ERROR ] && break
        sleep 0.25
    done
    echo "# vm is $(vm_field status) on $(vm_field OS-EXT-SRV-ATTR:host), not $1"
    return 1
}
vstatus() { # VOLUME-ID: its status (API)
    api GET "/volume/v3/$PROJECT/volumes/$1" | jq -r '.volume.status // "none"'
}
wait_vstatus() { # VOLUME-ID STATUS [SECONDS]
    local got=
    for _ in $(seq $((${3:-60} * 4))); do
        got=$(vstatus "$1")
        [ "$got" = "$2" ] && return 0
        case $got in error*) break ;; esac
        sleep 0.25
    done
    echo "# volume $1 is '$got', not '$2'"
    return 1
}
console_now() { api POST "/compute/v2.1/servers/$ID/action" -d '{"os-getConsoleOutput": {}}' | jq -r .output | tr -d '\r'; }
console_has() { # REGEX [SECONDS]: the console log (from the server's host), lines joined
    for _ in $(seq $((${2:-120} * 2))); do
        console_now | tr '\n' ' ' | grep -Eq -- "$1" && return 0
        sleep 0.5
    done
    console_now | tail -n 8 | sed 's/^/# console: /'
    return 1
}
# new_volume NAME HOST ARGS...: volume create on HOST (the other hosts
# disabled meanwhile: the volume scheduler takes enabled hosts only).
new_volume() {
    local name=$1 host=$2 h id
    shift 2
    for h in $H1 $H2 $H3; do
        [ "$h" = "$host" ] || os compute service set --disable "$h" nova-compute >/dev/null 2>&1
    done
    id=$(os volume create "$@" "$name" -f value -c id 2>&1)
    for h in $H1 $H2 $H3; do os compute service set --enable "$h" nova-compute >/dev/null 2>&1; done
    echo "$id"
}
vhost() { os volume show "$1" -f json 2>/dev/null | jq -r '."os-vol-host-attr:host" // "none"' | cut -d@ -f1; }

# ---- three hosts, tgtd -----------------------------------------------------------
if sim_underlay t022 $UL; then ok "the underlay bridge is made"; else not_ok "the underlay bridge is made"; fi
if [ -z "$PORTAL_PORT" ]; then
    PORTAL_PORT=$(free_port)
    tgtd --iscsi "portal=$UL.1:$PORTAL_PORT" >/dev/null 2>&1 && TGTD_STARTED=1
    for _ in $(seq 50); do tgtadm --lld iscsi --mode system --op show >/dev/null 2>&1 && break; sleep 0.1; done
fi
check "tgtd answers" tgtadm --lld iscsi --mode system --op show
start_stratusd || { not_ok "stratusd starts"; done_testing; }
check "libvirtd runs" start_libvirt
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1
printf '[volume]\niscsi_portal = %s:%s\n' "$UL.1" "$PORTAL_PORT" >"$ST_TMP/agent-extra.conf"
started=$(sim_hosts_start 3 --agent-conf "$ST_TMP/agent-extra.conf" 2>&1)
check_eq "three simulated hosts start and register" "$H1 $UL.11 $H2 $UL.12 $H3 $UL.13" "$(echo $started)"
[ "$(echo $started)" = "$H1 $UL.11 $H2 $UL.12 $H3 $UL.13" ] ||
    { echo "Bail out! the simulated hosts did not start: $started"; exit 1; }
check "upload the test guest" upload_guest
PROJECT=$(os token issue -f value -c project_id)
ST_TOKEN=$(os token issue -f value -c id)
targets0=$(targets)

# ---- a guest on the second host, booted from a volume on the first ----------------
BV=$(new_volume bootvol $H1 --image testguest --size 1 --bootable)
check_match "volume create --image testguest --bootable bootvol (on $H1)" '^[0-9a-f-]{36}$' "$BV"
check "bootvol becomes available" wait_vstatus "$BV" available 120
check_eq "it is on $H1" "$H1" "$(vhost "$BV")"
check "its file is in $H1's pool" test -s "$ST_SIM_STATE/1/data/volumes/volume-$BV.qcow2"
LV=$(new_volume local2 $H2 --size 1)
check "a volume local2 on $H2 becomes available" wait_vstatus "$LV" available
MARK=t022-$RANDOM$RANDOM
marker_userdata T022 "$MARK" "$ST_TMP/ud"
cat >>"$ST_TMP/ud" <<EOF
exit 0
EOF
check "server create --volume bootvol on $H2" os "${NOVA[@]}" server create --volume bootvol \
    --flavor tiny --nic none --user-data "$ST_TMP/ud" --availability-zone nova:$H2 vm
ID=$(os server show vm -f value -c id)
DOM=instance-$ID
check "vm is ACTIVE" wait_vm ACTIVE
check "it booted from the volume (iSCSI from $H1) and wrote its marker there" \
    console_has "T022-MARK-WRITTEN $MARK .*T022-BOOTS 1 .*stratus-guest: ready" 180
check_match "its boot disk on $H2 is an iSCSI network disk" "protocol=.iscsi." \
    "$(vsh $H2 dumpxml "$DOM" 2>&1)"
check "server add volume vm local2" sh -c "$OPENSTACK server add volume vm local2 >/dev/null"
check "local2 is in-use" wait_vstatus "$LV" in-use
ATT0=$(os volume show bootvol -f json | jq -r '.attachments[0].attachment_id')

# ---- the second host crashes ---------------------------------------------------------
sim kill-agent 2
vsh $H2 destroy "$DOM" >/dev/null 2>&1
check_eq "the host crashed: its agent is dead, its domain stopped" "$DOM shut off" \
    "$(doms_on $H2) $(vsh $H2 domstate "$DOM" 2>&1)"
check "compute service set --down" os "${NOVA[@]}" compute service set --down $H2 nova-compute
out=$(os "${NOVA[@]}" server evacuate --host $H3 vm 2>&1)
check_match "server evacuate: 409, the volume on the crashed host cannot follow" \
    "Volume $LV is on host $H2, which is down.*409" "$(echo $out)"
VM=$(vm_show)
check_eq "... and nothing changed: still on $H2, no migration" "$H2 0" \
    "$(vm_field OS-EXT-SRV-ATTR:host) $(os "${NOVA[@]}" server migration list --server vm -f value -c Id 2>&1 | grep -c .)"
check "server remove volume vm local2 (its host is dead: the detach waits)" \
    sh -c "$OPENSTACK server remove volume vm local2"

# ---- evacuation ------------------------------------------------------------------------
# Debian 12's client (OSC 6.0.0) exits 1 after the evacuation was accepted
# ("'TupleWithMeta' object has no attribute 'to_dict'"); the server says the rest.
t0=$SECONDS
out=$(os "${NOVA[@]}" server evacuate --host $H3 vm 2>&1)
check_match "server evacuate --host $H3 (accepted)" "^$|TupleWithMeta" "$out"
wait_vm ACTIVE 120 $H2
E=$(vm_field OS-EXT-SRV-ATTR:host)
diag "evacuation $H2 -> $E: ACTIVE after $((SECONDS - t0)) s"
check_eq "ACTIVE on $H3" "ACTIVE $H3" "$(vm_field status) $E"
check "booted there from the same volume: its marker, its second boot" \
    console_has "T022-MARK-SEEN $MARK .*T022-BOOTS 2 .*stratus-guest: ready" 180
check_match "its boot disk on $H3 is an iSCSI network disk" "protocol=.iscsi." \
    "$(vsh $H3 dumpxml "$DOM" 2>&1)"
check_eq "volume show bootvol: in-use, attached to vm" "in-use $ID" \
    "$(os volume show bootvol -f json 2>&1 | jq -r '.status + " " + .attachments[0].server_id')"
ATT1=$(os volume show bootvol -f json | jq -r '.attachments[0].attachment_id')
for _ in $(seq 40); do [ "$(targets)" = "${targets0}invalid.stratus:$ATT1 " ] && break; sleep 0.25; done
check_eq "a new attachment: its target served, the old one ($ATT0) gone" \
    "new ${targets0}invalid.stratus:$ATT1 " "$([ "$ATT1" != "$ATT0" ] && echo new) $(targets)"
check "local2 is available (its detach ended with the evacuation)" wait_vstatus "$LV" available

# ---- the crashed host back, nothing left -------------------------------------------
sim start-agent 2
check_eq "the crashed host's agent back: its old copy removed" "" "$(wait_doms $H2 "" 40)"
check "compute service set --up" os "${NOVA[@]}" compute service set --up $H2 nova-compute
vm_gone() {
    os server delete vm || return 1
    for _ in $(seq 240); do
        [ "$(api GET "/compute/v2.1/servers/$ID" -o /dev/null -w '%{http_code}')" = 404 ] && return 0
        sleep 0.25
    done
    return 1
}
gone_and_free() { vm_gone && wait_vstatus "$BV" available; }
check "server delete: gone, bootvol available again" gone_and_free
check "volume delete bootvol local2" os volume delete bootvol local2
for _ in $(seq 120); do
    [ "$(api GET "/volume/v3/$PROJECT/volumes" | jq '.volumes | length')" = 0 ] && break
    sleep 0.25
done
left=
for h in $H1 $H2 $H3; do
    left+="$(wait_doms "$h" "")$(ls "$ST_SIM_STATE/$(sim_idx "$h")/instances" 2>/dev/null | grep -v '^[_.]' | tr '\n' ' ')"
    left+="$(ls "$ST_SIM_STATE/$(sim_idx "$h")/data/volumes" 2>/dev/null | grep -E '^(volume|snapshot)-' | tr '\n' ' ')"
done
check_eq "no volume, domain, instance directory or volume file is left on any host" "" \
    "$(os volume list -f value -c ID 2>&1)$left"
check_eq "no iSCSI target is left" "$targets0" "$(targets)"

sim stop >/dev/null 2>&1
ST_SIM_STATE=
stop_stratusd
done_testing
