#!/bin/bash
# t005 - servers on real libvirt/QEMU (TCG) through Debian's openstack CLI:
# the test guest boots and configures itself from its seed (NoCloud and
# config drive), every lifecycle action, snapshots that boot, events,
# errors, crash safety (SIGKILL of the agent and of stratusd), and nothing
# left behind.
. "$(dirname "$0")/lib.sh"
plan 99

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"
check "libvirtd runs" start_libvirt
before=$(leak_snapshot)
if start_agent; then ok "the agent registers and its hypervisor is up"; else not_ok "the agent registers"; fi
out=$(os "${NOVA[@]}" hypervisor list -f value -c "Hypervisor Hostname" -c State 2>&1)
check_match "hypervisor list shows this host up" "$(hostname) up" "$out"
check "upload the test guest images" upload_guest

W=$ST_TMP/work
mkdir -p "$W"
marker=ud-$RANDOM$RANDOM
cat >"$W/userdata" <<EOF
#!/bin/sh
echo "$marker"
# Leave a mark on the data disk, for the snapshot.
if [ -d /mnt/disk ]; then echo snap-$marker > /mnt/disk/stratus-disk; sync; fi
EOF

# -- boot, seeds ----------------------------------------------------------
t0=$(date +%s)
check "server create --nic none --user-data --wait vm1" \
    os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none \
    --user-data "$W/userdata" --wait vm1
out=$(os server show vm1 -f value -c status)
check_eq "vm1 is ACTIVE" ACTIVE "$out"
diag "vm1 ACTIVE after $(($(date +%s) - t0)) s"
log=$(wait_console vm1 'stratus-guest: ready')
check_match "console shows the hostname from the name (NoCloud)" \
    'stratus-guest: hostname=vm1 .*seed=nocloud' "$log"
check_match "console shows the user-data ran" "userdata=ok" "$log"
check_match "the user-data's own output is on the console" "$marker" "$log"
id1=$(os server show vm1 -f value -c id)
check_match "the instance-id is the server id" "instance-id=$id1" "$log"
check "the seed is in the instance directory" test -s "$ST_TMP/instances/$id1/disk.seed"

# The raw responses against Tempest's schemas, the contract clients rely on.
TS=$ST_TOP/tests/integration/tempest_schema.py
schema() { # MICROVERSION PATH SCHEMA-MODULE SCHEMA
    curl -s -H "X-Auth-Token: $ST_TOKEN" -H "OpenStack-API-Version: compute $1" \
        "$ST_URL/compute/v2.1$2" >"$ST_TMP/schema.json" &&
        /usr/bin/python3 "$TS" compute "$3" "$4" <"$ST_TMP/schema.json"
}
ST_TOKEN=$(os token issue -f value -c id)
for mv in 2.1:v2_1 2.3:v2_3 2.9:v2_9 2.16:v2_16 2.19:v2_19 2.26:v2_26 2.47:v2_47 \
    2.63:v2_63 2.71:v2_71 2.73:v2_73 2.79:v2_79; do
    v=${mv%%:*}
    m=${mv##*:}
    check "server show at $v matches Tempest's $m.servers.get_server" \
        schema "$v" "/servers/$id1" "$m.servers" get_server
done
check "servers/detail at 2.73 matches Tempest's list_servers_detail" \
    schema 2.73 /servers/detail v2_73.servers list_servers_detail
check "servers at 2.1 matches Tempest's list_servers" schema 2.1 /servers v2_1.servers list_servers

check "server create --config-drive true --wait vm2" \
    os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none \
    --config-drive true --user-data "$W/userdata" --wait vm2
log=$(wait_console vm2 'stratus-guest: ready')
check_match "vm2 configured itself from the config drive" \
    'hostname=vm2 .*userdata=ok seed=configdrive' "$log"
check "the config drive is in the instance directory" \
    test -s "$ST_TMP/instances/$(os server show vm2 -f value -c id)/disk.config"

# -- lifecycle ------------------------------------------------------------
boots() { os console log show vm1 2>/dev/null | grep -c 'stratus-guest: booting'; }
n=$(boots)
check "server stop" os server stop vm1
check "vm1 reaches SHUTOFF" wait_status vm1 SHUTOFF
out=$(os server show vm1 -f value -c OS-EXT-STS:power_state 2>&1)
check_match "power_state is Shutdown (4)" "^(4|Shutdown)$" "$out"
check "server start" os server start vm1
check "vm1 is ACTIVE again" wait_status vm1 ACTIVE
wait_boots() { # N [MARKER]: until the console shows more than N markers
    for _ in $(seq "$ST_BOOT_TIMEOUT"); do
        [ "$(os console log show vm1 2>/dev/null |
            grep -c "stratus-guest: ${2:-ready}")" -gt "$1" ] && return 0
        sleep 1
    done
    return 1
}
check "vm1 booted again" wait_boots "$n"
check "server reboot (soft)" os server reboot --wait vm1
check_eq "ACTIVE after a soft reboot" ACTIVE "$(os server show vm1 -f value -c status)"
# Booted up before the hard reboot: one that comes before the guest kernel
# prints its first line leaves no mark of the boot it cut short.
check "the guest booted again after the soft reboot" wait_boots $((n + 1))
check "server reboot --hard" os server reboot --hard --wait vm1
check_eq "ACTIVE after a hard reboot" ACTIVE "$(os server show vm1 -f value -c status)"
# ACTIVE comes when the domain runs again, before the kernel prints anything.
check "the guest went through both reboots" wait_boots $((n + 2)) booting
check "server pause" os server pause vm1
check "vm1 PAUSED" wait_status vm1 PAUSED 60
check "server unpause" os server unpause vm1
check "vm1 ACTIVE after unpause" wait_status vm1 ACTIVE 60
check "server suspend" os server suspend vm1
check "vm1 SUSPENDED" wait_status vm1 SUSPENDED 120
check "server resume" os server resume vm1
check "vm1 ACTIVE after resume" wait_status vm1 ACTIVE 120
check "server rescue" os server rescue vm1
check "vm1 RESCUE" wait_status vm1 RESCUE
check "server unrescue" os server unrescue vm1
check "vm1 ACTIVE after unrescue" wait_status vm1 ACTIVE

# Snapshot: the guest wrote a mark on its disk; a server booted from the
# snapshot sees it.
check "server image create --wait" os server image create --name snap1 --wait vm1
out=$(os image show snap1 -f value -c status 2>&1)
check_eq "the snapshot image is active" active "$out"
out=$(os image show snap1 -f json 2>&1)
check_match "the snapshot keeps the kernel_id of its source" 'kernel_id' "$out"
check "boot vm3 from the snapshot" os "${NOVA[@]}" server create --image snap1 --flavor tiny \
    --nic none --wait vm3
log=$(wait_console vm3 'stratus-guest: ready')
check_match "vm3 has the disk written by vm1" "disk=snap-$marker" "$log"

check "server rebuild --image testguest" os server rebuild --image testguest --wait vm1
check_eq "vm1 ACTIVE after rebuild" ACTIVE "$(os server show vm1 -f value -c status)"
check_eq "rebuild keeps the id" "$id1" "$(os server show vm1 -f value -c id)"
check "server resize --flavor small" os server resize --flavor small vm1
check "vm1 VERIFY_RESIZE" wait_status vm1 VERIFY_RESIZE
check "server resize confirm" os server resize confirm vm1
check "vm1 ACTIVE after confirm" wait_status vm1 ACTIVE
out=$(os "${NOVA[@]}" server show vm1 -f json -c flavor 2>&1)
check_match "vm1 runs the small flavor (256 MB)" '"ram": 256' "$out"
os flavor create --vcpus 1 --ram 320 --disk 2 roomier >/dev/null
check "server resize --flavor roomier (to revert)" os server resize --flavor roomier vm1
check "vm1 VERIFY_RESIZE again" wait_status vm1 VERIFY_RESIZE
check "server resize revert" os server resize revert vm1
check "vm1 ACTIVE after revert" wait_status vm1 ACTIVE
out=$(os "${NOVA[@]}" server show vm1 -f json -c flavor 2>&1)
check_match "revert brings back the small flavor" '"ram": 256' "$out"

check "server set --property" os server set --property role=web vm1
out=$(os server show vm1 -f value -c properties)
check_match "the property is shown" "role.*web" "$out"
out=$(os server event list vm1 -f value -c Action | sort -u | tr '\n' ' ')
check_match "server event list has the actions" \
    'create.*pause.*reboot.*rebuild.*rescue.*resize.*start.*stop' "$out"

# -- errors ---------------------------------------------------------------
out=$(os "${NOVA[@]}" server create --image 00000000-0000-4000-8000-000000000000 \
    --flavor tiny --nic none bad 2>&1)
check_match "an unknown image is 400" 'HTTP 400|could not be found|No Image' "$out"
ST_TOKEN=$(os token issue -f value -c id)
img=$(os image show testguest -f value -c id)
res=$(http POST /compute/v2.1/servers -H 'OpenStack-API-Version: compute 2.37' \
    -d "{\"server\": {\"name\": \"x\", \"imageRef\": \"$img\", \"flavorRef\": \"nope\",
        \"networks\": \"none\"}}" | cut -d' ' -f1)
check_eq "an unknown flavor is 400" 400 "$res"
big=$(os image create --disk-format qcow2 --container-format bare --min-disk 50 \
    --file "$ST_GUEST/disk.qcow2" big -f value -c id)
res=$(http POST /compute/v2.1/servers -H 'OpenStack-API-Version: compute 2.37' \
    -d "{\"server\": {\"name\": \"x\", \"imageRef\": \"$big\", \"flavorRef\": \"42\",
        \"networks\": \"none\"}}")
check_match "a flavor smaller than the image's min_disk is 400" '^400 .*too small' "$res"
res=$(http POST "/compute/v2.1/servers/$id1/action" -d '{"os-start": null}')
check_match "starting an ACTIVE server is 409" '^409 ' "$res"
# More RAM than this host has (x1.5), less than the project's quota.
host_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
os flavor create --vcpus 1 --ram $((host_mb * 2)) --disk 1 huge >/dev/null
os quota set --ram $((host_mb * 4)) "$(os project show admin -f value -c id)" >/dev/null
out=$(os "${NOVA[@]}" server create --image testguest --flavor huge --nic none --wait roomless 2>&1)
check_match "no host with room: the server goes to ERROR" 'ERROR|Error' "$out"
out=$(os server show roomless -f value -c fault 2>&1)
check_match "... with Nova's fault" 'No valid host was found' "$out"
check "the roomless server can be deleted" os server delete --wait roomless
project=$(os project show admin -f value -c id)
os quota set --instances 3 "$project" >/dev/null
out=$(os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none over 2>&1)
check_match "over quota is 403 naming instances" 'Quota exceeded for instances' "$out"
os quota set --instances 10 "$project" >/dev/null
os project create other >/dev/null
os user create --password o-pw --project other ouser >/dev/null
os role add --project other --user ouser member >/dev/null
use_user ouser o-pw other
res=$(ST_TOKEN=$(os token issue -f value -c id) http GET "/compute/v2.1/servers/$id1" | cut -d' ' -f1)
check_eq "another project's server is 404" 404 "$res"
use_admin

# -- crash safety ---------------------------------------------------------
# The agent killed in the middle of a build: restarted, it finishes.
os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none crash1 >/dev/null
sleep 0.7
kill_agent KILL
if start_agent; then ok "the agent restarts after SIGKILL during a build"; else not_ok "agent restart"; fi
check "the server still becomes ACTIVE" wait_status crash1 ACTIVE
# ... and in the middle of a delete.
os server delete crash1 >/dev/null
sleep 0.5
kill_agent KILL
if start_agent; then ok "the agent restarts after SIGKILL during a delete"; else not_ok "agent restart"; fi
gone=1
for _ in $(seq 120); do
    os server show crash1 >/dev/null 2>&1 || { gone=0; break; }
    sleep 0.5
done
check_eq "the deleted server is gone" 0 "$gone"
# stratusd killed after accepting a create, before the agent picked it up.
kill_agent TERM
os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none crash2 >/dev/null
kill -KILL "$ST_PID"
wait "$ST_PID" 2>/dev/null
"$ST_BUILD/stratusd" --data-dir "$ST_DATA" --listen "127.0.0.1:$ST_PORT" \
    --log-file "$ST_TMP/stratusd.log" </dev/null >>"$ST_TMP/stratusd.err" 2>&1 &
ST_PID=$!
ST_PIDS+=("$ST_PID")
for _ in $(seq 100); do curl -sf "$ST_URL/identity" >/dev/null && break; sleep 0.05; done
if start_agent; then ok "stratusd and the agent restart"; else not_ok "restart"; fi
check "the server accepted before the crash becomes ACTIVE" wait_status crash2 ACTIVE
out=$(os server list -f value -c Status | sort -u | tr '\n' ' ')
check_eq "no server is stuck in BUILD or deleting" "ACTIVE " "$out"

# -- several at once ----------------------------------------------------------
# The agent starts and removes the servers of one pass side by side.
check "server create --min 3 --max 3 multi" os "${NOVA[@]}" server create --image testguest \
    --flavor tiny --nic none --min 3 --max 3 multi
for i in 1 2 3; do
    check "multi-$i becomes ACTIVE" wait_status "multi-$i" ACTIVE
done
log=$(wait_console multi-3 'stratus-guest: ready')
check_match "multi-3 boots with its own name" 'stratus-guest: hostname=multi-3 ' "$log"

# -- nothing left behind ----------------------------------------------------
check "server delete --wait (all)" os server delete --wait vm1 vm2 vm3 crash2 multi-1 multi-2 \
    multi-3
for _ in $(seq 60); do
    [ "$(leak_snapshot)" = "$before" ] && break
    sleep 0.5
done
check_eq "no domain, instance directory or QEMU process is left" "$before" "$(leak_snapshot)"

kill -TERM "$ST_AGENT_PID"
wait "$ST_AGENT_PID"
check_eq "the agent exits 0 on SIGTERM" 0 "$?"
stop_stratusd
done_testing
