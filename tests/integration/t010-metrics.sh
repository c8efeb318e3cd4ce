#!/bin/bash
# t010 - monitoring: stratusd's and the agent's GET /metrics (Prometheus text
# format, read with prometheus_client's own parser), Nova's server
# diagnostics and os-hypervisors/statistics with the figures of a real guest.
. "$(dirname "$0")/lib.sh"
plan 70

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
PY=/usr/bin/python3
PROM=$ST_TOP/tests/integration/prom.py
TS=$ST_TOP/tests/integration/tempest_schema.py
MPORT=$(free_port)
M=http://127.0.0.1:$MPORT/metrics
start_stratusd --metrics-listen "127.0.0.1:$MPORT" || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts with --metrics-listen"

scrape() { curl -sf "$1" >"$ST_TMP/$2.prom"; }
# prom FILE ARGS...: prom.py on a saved scrape.
prom() { local f=$1; shift; "$PY" "$PROM" "$@" <"$ST_TMP/$f.prom"; }
# Until the agent's report has brought figures for server $id.
wait_for_stats() {
    for _ in $(seq 60); do
        [ "$(sqlite3 "$ST_DATA/stratus.db" \
            "SELECT COUNT(*) FROM server_stats WHERE server_id = '$id'")" = 1 ] && return 0
        sleep 0.5
    done
    return 1
}
num_gt() {
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"
}

# -- stratusd's listener --------------------------------------------------
ct=$(curl -s -o /dev/null -w '%{content_type}' "$M")
check_eq "the metrics are text format 0.0.4" "text/plain; version=0.0.4; charset=utf-8" "$ct"
check "a first scrape" scrape "$M" c1
check "prometheus_client parses stratusd's metrics" prom c1 families
before=$(prom c1 value stratus_http_requests_total method=GET \
    route=/compute/v2.1/servers/detail code=200 2>/dev/null || echo 0)
check "server list" os server list
check "server list again" os server list
curl -s -o /dev/null "$ST_URL/compute/v2.1/no-such-thing"
check "a second scrape" scrape "$M" c2
after=$(prom c2 value stratus_http_requests_total method=GET \
    route=/compute/v2.1/servers/detail code=200)
check_eq "requests are counted by route pattern and status" $((before + 2)) "$after"
check_match "an unknown path is counted as unmatched, with its 404" '^[1-9]' \
    "$(prom c2 value stratus_http_requests_total route='(unmatched)' code=404)"
check_eq "no raw path becomes a label" 0 \
    "$(prom c2 count stratus_http_requests_total route=/compute/v2.1/no-such-thing)"
check "the latency histograms are well formed" prom c2 histograms
check_match "token requests have their latency" '^[1-9]' \
    "$(prom c2 value stratus_http_request_duration_seconds_count method=POST \
        route=/identity/v3/auth/tokens)"
db1=$(prom c1 value stratus_db_seconds_total)
db2=$(prom c2 value stratus_db_seconds_total)
check "the time spent in SQL grows with requests" num_gt "$db2" "$db1"
check_eq "the store is readable" 1 "$(prom c2 value stratus_store_up)"
out=$(curl -s -o /dev/null -w '%{http_code}' "$ST_URL/metrics")
check_eq "the public API listener does not serve /metrics" 404 "$out"
out=$(curl -s -D "$ST_TMP/hdr" -o /dev/null -w '%{http_code}' -X POST "$M")
check_eq "POST /metrics is 405" 405 "$out"
check_match "405 says what is allowed" '^Allow: GET, HEAD' "$(tr -d '\r' <"$ST_TMP/hdr")"
out=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/compute/v2.1/servers")
check_eq "the metrics listener serves nothing else" 404 "$out"

# -- the agent and a guest ------------------------------------------------
check "libvirtd runs" start_libvirt
APORT=$(free_port)
AM=http://127.0.0.1:$APORT/metrics
if start_agent --metrics-listen "127.0.0.1:$APORT"; then ok "the agent starts with --metrics-listen"
else not_ok "the agent starts"; fi
check "upload the test guest images" upload_guest
check "server create --wait vm1" \
    os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none --wait vm1
id=$(os server show vm1 -f value -c id)
check "openstack server show vm1" os server show vm1
# ACTIVE comes before the guest has read its root disk (it boots from its
# kernel and initrd, and mounts vda only later): wait for its "ready".
check_match "vm1 boots to ready (it has read its disk)" 'stratus-guest: ready' \
    "$(wait_console vm1 'stratus-guest: ready')"
check "the agent reports figures for vm1" wait_for_stats

check "stratusd scrape with the guest" scrape "$M" c3
check_eq "hosts up = 1" 1 "$(prom c3 value stratus_hosts_up)"
check_eq "servers by status shows the ACTIVE server" 1 \
    "$(prom c3 value stratus_servers status=ACTIVE)"

check "an agent scrape" scrape "$AM" a1
check "prometheus_client parses the agent's metrics" prom a1 families
check "the agent's pass histogram is well formed" prom a1 histograms
check_match "passes are counted" '^[1-9]' "$(prom a1 value stratus_agent_passes_total)"
check_eq "the agent reads libvirt" 1 "$(prom a1 value stratus_agent_libvirt_up)"
check_eq "the agent counts its running server" 1 \
    "$(prom a1 value stratus_agent_servers state=running)"
check_eq "only this agent's guests are shown (libvirtd may hold others')" "$id" \
    "$(prom a1 labels stratus_domain_cpu_seconds_total instance)"
check_match "the guest's memory size is its flavor's" '^134217728$' \
    "$(prom a1 value stratus_domain_memory_maximum_bytes instance="$id")"
check_match "the guest read from its root disk" '^[1-9]' \
    "$(prom a1 value stratus_domain_disk_read_bytes_total instance="$id" device=vda)"
cpu1=$(prom a1 value stratus_domain_cpu_seconds_total instance="$id")
t_a1=$(date +%s)
sleep 3
check "a second agent scrape" scrape "$AM" a2
cpu2=$(prom a2 value stratus_domain_cpu_seconds_total instance="$id")
check "the running guest's CPU time grows between scrapes" num_gt "$cpu2" "$cpu1"
diag "guest CPU seconds: $cpu1 then $cpu2"

# -- Nova: diagnostics and hypervisor figures -----------------------------
# Diagnostics show the agent's last report, which comes every report_interval
# (the controller's 10 s): wait for one taken after the scrape a1, whose
# counters are known to be past zero.
wait_report_after() {
    for _ in $(seq 60); do
        [ "$(sqlite3 "$ST_DATA/stratus.db" \
            "SELECT updated_at > $1 FROM server_stats WHERE server_id = '$id'")" = 1 ] && return 0
        sleep 0.5
    done
    return 1
}
check "a report after the first agent scrape" wait_report_after "$t_a1"
ST_TOKEN=$(os token issue -f value -c id)
get() { # MICROVERSION PATH
    curl -s -o "$ST_TMP/body.json" -w '%{http_code}' -H "X-Auth-Token: $ST_TOKEN" \
        -H "OpenStack-API-Version: compute $1" "$ST_URL/compute/v2.1$2"
}
schema() { "$PY" "$TS" compute "$1" "$2" <"$ST_TMP/body.json"; }
# field EXPR: EXPR evaluated with d, the last body.
field() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' \
        "$ST_TMP/body.json" "$1"
}
check_eq "diagnostics as admin at 2.48" 200 "$(get 2.48 "/servers/$id/diagnostics")"
check "diagnostics match Tempest's v2_48 show_server_diagnostics" \
    schema v2_48.servers show_server_diagnostics
check_eq "diagnostics: running, libvirt, qemu, 1 vCPU, 128 MiB" "running libvirt qemu 1 128" \
    "$(field '"%s %s %s %d %d" % (d["state"], d["driver"], d["hypervisor"], d["num_cpus"], d["memory_details"]["maximum"])')"
check_match "diagnostics: the vCPU has run and the root disk was read" '^True True$' \
    "$(field '"%s %s" % (d["cpu_details"][0]["time"] > 0, d["disk_details"][0]["read_bytes"] > 0)')"
out=$(os "${NOVA[@]}" server show --diagnostics vm1 -f json 2>&1)
check_match "openstack server show --diagnostics shows the figures" '"cpu_details"' "$out"
check_eq "diagnostics before 2.48: libvirt's own keys" 200 "$(get 2.1 "/servers/$id/diagnostics")"
check_match "  with cpu0_time and vda_read" '^True$' \
    "$(field '"cpu0_time" in d and d.get("vda_read", 0) > 0')"
os user create --password member-pw --project admin metrics-u >/dev/null 2>&1
os role add --project admin --user metrics-u member >/dev/null 2>&1
member=$(OS_USERNAME=metrics-u OS_PASSWORD=member-pw os token issue -f value -c id)
out=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $member" \
    -H "OpenStack-API-Version: compute 2.48" "$ST_URL/compute/v2.1/servers/$id/diagnostics")
check_eq "a non-admin of the server's project gets 403" 403 "$out"

check_eq "hypervisor statistics" 200 "$(get 2.1 /os-hypervisors/statistics)"
check "statistics match Tempest's v2_1 get_hypervisor_statistics" \
    schema v2_1.hypervisors get_hypervisor_statistics
check_eq "statistics: 1 VM, 1 vCPU used, 128 MiB + 512 reserved, no workload" "1 1 640 0" \
    "$(field '"%d %d %d %d" % tuple(d["hypervisor_statistics"][k] for k in ("running_vms", "vcpus_used", "memory_mb_used", "current_workload"))')"
avail=$(df -B1 --output=avail "$ST_TMP/instances" | tail -n 1)
dal=$(field 'd["hypervisor_statistics"]["disk_available_least"]')
# The agent's free disk, less what vm1's 1 GiB root disk may still take.
check_match "disk_available_least is the measured free disk less overcommit" '^True$' \
    "$("$PY" -c 'import sys; a=int(sys.argv[1]) >> 30; d=int(sys.argv[2]); print(a - 2 <= d <= a)' "$avail" "$dal")"
hid=$(os hypervisor list -f value -c ID | head -n 1)
check_eq "hypervisor show" 200 "$(get 2.1 "/os-hypervisors/$hid")"
check "hypervisor show matches Tempest's v2_1 get_hypervisor" schema v2_1.hypervisors get_hypervisor

check "server stop vm1" os server stop vm1
check "vm1 SHUTOFF" wait_status vm1 SHUTOFF
check_eq "diagnostics of a stopped server: 409" 409 "$(get 2.48 "/servers/$id/diagnostics")"
check "server delete --wait vm1" os server delete --wait vm1
check_eq "the figures went with the server" 0 \
    "$(sqlite3 "$ST_DATA/stratus.db" 'SELECT COUNT(*) FROM server_stats')"

# -- a fault: an image whose data no longer matches its checksum ---------
head -c 1048576 /dev/zero >"$ST_TMP/broken.raw"
check "image create broken" os image create --disk-format raw --container-format bare \
    --file "$ST_TMP/broken.raw" broken
iid=$(os image show broken -f value -c id)
printf 'X' | dd of="$ST_DATA/images/$iid" bs=1 conv=notrunc status=none
check "server create from it" os "${NOVA[@]}" server create --image broken --flavor tiny --nic none vm2
check "vm2 goes to ERROR" wait_status vm2 ERROR 60
check "an agent scrape after the fault" scrape "$AM" a3
check_eq "the fault is counted under its step" 1 \
    "$(prom a3 value stratus_agent_faults_total step=image)"
check_eq "the agent counts its server in error" 1 "$(prom a3 value stratus_agent_servers state=error)"
sleep 7 # the agent retries after 5 s, and fails the same way
check "a later agent scrape" scrape "$AM" a4
check_eq "a retry that fails the same way is not a new fault" 1 \
    "$(prom a4 value stratus_agent_faults_total step=image)"
check "server delete --wait vm2" os server delete --wait vm2

kill_agent TERM
stop_stratusd
done_testing
