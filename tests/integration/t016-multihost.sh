#!/bin/bash
# t016 - a cloud of three hosts simulated on this machine (scripts/sim-hosts):
# each host a network namespace with its own libvirtd and stratus-agent,
# reaching the controller over an underlay bridge.
#
# Six servers created at once spread over the three hosts (each runs some,
# in its own libvirtd); hypervisor show counts them.  An aggregate with an
# availability zone takes one host: a server asking for the zone lands there
# and shows the zone.  Hints same_host and different_host are honoured.  A
# disabled host gets no new server.  A host whose agent is killed is shown
# down within [compute] service_down_time, and gets no new server either.
#
# The servers boot a blank disk, not the test guest: placement is what is
# checked, and fifteen TCG guests booting for nothing would hold both CPUs.
# Each wait or look at several servers is one server list, not one CLI call
# (a python start, 1-2 s here) per server; deletions are one call for all,
# then a wait until they are gone (server delete --wait deletes one, polls
# it every 5 s, then the next).
. "$(dirname "$0")/lib.sh"
plan 33

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
DOWN_TIME=6 # [compute] service_down_time; agents report every 2 s

H1=t016-1 H2=t016-2 H3=t016-3
# host_of SERVER: the host the scheduler gave it (admin view).
host_of() { os server show "$1" -f value -c OS-EXT-SRV-ATTR:host 2>/dev/null; }
# hosts_of NAME...: their hosts, one a line in the order given (one server list).
hosts_of() {
    local list s
    list=$(os server list -f value -c Name -c Host 2>/dev/null)
    for s in "$@"; do awk -v n="$s" '$1 == n {print $2}' <<<"$list"; done
}
# domains_on I: running domains in simulated host I's own libvirtd.
domains_on() {
    virsh -q -c "qemu+unix:///system?socket=$ST_SIM_STATE/$1/run/libvirt/libvirt-sock" \
        list --name 2>/dev/null | grep -c .
}
# delete_all NAME...: server delete, then until none is listed.
delete_all() {
    local s list gone
    os server delete "$@" || return 1
    for _ in $(seq 240); do
        if list=$(os server list -f value -c Name 2>/dev/null); then
            gone=yes
            for s in "$@"; do grep -qx "$s" <<<"$list" && gone=no; done
            [ $gone = yes ] && return 0
        fi
        sleep 0.5
    done
    echo "# still there: $(echo $list)"
    return 1
}
wait_all_active() { # NAME...: polls one server list until all are ACTIVE
    local list s n
    for _ in $(seq $((ST_BOOT_TIMEOUT * 2))); do
        list=$(os server list -f value -c Name -c Status 2>/dev/null)
        n=0
        for s in "$@"; do
            case $(awk -v n="$s" '$1 == n {print $2}' <<<"$list") in
            ACTIVE) n=$((n + 1)) ;;
            ERROR) echo "# $s is ERROR"; return 1 ;;
            esac
        done
        [ "$n" -eq $# ] && return 0
        sleep 0.5
    done
    echo "# not all ACTIVE: $(echo $list)"
    return 1
}

if sim_underlay t016 198.18.16; then ok "the underlay bridge is made"; else not_ok "the underlay bridge is made"; fi
printf '[compute]\nservice_down_time = %s\n[quota]\ninstances = -1\ncores = -1\n' \
    "$DOWN_TIME" >"$ST_TMP/stratusd.conf"
start_stratusd --config "$ST_TMP/stratusd.conf" || { not_ok "stratusd starts"; done_testing; }
ok "stratusd listens on the underlay ($ST_URL)"
check "libvirtd runs" start_libvirt
# This machine's own host (bootstrap's) has no agent here: out of the way.
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1
started=$(sim_hosts_start 3 2>&1)
check_eq "three simulated hosts start and register" \
    "$H1 198.18.16.11 $H2 198.18.16.12 $H3 198.18.16.13" "$(echo $started)"
[ "$(echo $started)" = "$H1 198.18.16.11 $H2 198.18.16.12 $H3 198.18.16.13" ] ||
    { echo "Bail out! the simulated hosts did not start"; exit 1; }
check_eq "the three hypervisors are up" "$H1 up $H2 up $H3 up" \
    "$(os hypervisor list -f value -c 'Hypervisor Hostname' -c State | grep "^t016-" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "each host has its own libvirtd (none of theirs is this machine's)" "3" \
    "$(for i in 1 2 3; do cat "$ST_SIM_STATE/$i/libvirtd.pid"; echo; done | sort -u | grep -v "^$(pgrep -o -x libvirtd)\$" | grep -c .)"
head -c 1M /dev/zero >"$ST_TMP/blank.raw"
check "upload a blank image" os image create --disk-format raw --container-format bare \
    --file "$ST_TMP/blank.raw" blank

# ---- six servers spread over three hosts ----
check "create six servers at once" os "${NOVA[@]}" server create --image blank \
    --flavor tiny --nic none --min 6 --max 6 spread
names=(spread-1 spread-2 spread-3 spread-4 spread-5 spread-6)
check "all six become ACTIVE" wait_all_active "${names[@]}"
per_host=$(hosts_of "${names[@]}" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
check_eq "the weigher spread them two per host" "$H1=2 $H2=2 $H3=2 " "$per_host"
check_eq "each host's own libvirtd runs its two" "2 2 2" "$(domains_on 1) $(domains_on 2) $(domains_on 3)"
check_eq "hypervisor show counts them (memory_mb_used, running_vms, vcpus_used)" \
    "$((2 * 128 + 512)) 2 2" \
    "$(os --os-compute-api-version 2.87 hypervisor show $H1 -f value -c running_vms -c vcpus_used -c memory_mb_used | tr '\n' ' ' | sed 's/ $//')"
check "delete the six" delete_all "${names[@]}"

# ---- availability zone through an aggregate ----
check "aggregate create --zone az-b" os aggregate create --zone az-b agg-b
check "aggregate add host (second host)" os aggregate add host agg-b $H2
check_eq "the host is in zone az-b" az-b \
    "$(os compute service list --host $H2 -f value -c Zone)"
check_match "availability zone list shows az-b" "az-b" "$(os availability zone list -f value -c 'Zone Name')"
check "server create --availability-zone az-b" os "${NOVA[@]}" server create --image blank \
    --flavor tiny --nic none --availability-zone az-b inzone
wait_status inzone ACTIVE >/dev/null
IZ_SHOW=$(os server show inzone -f json)
IZ=$(jq -r .id <<<"$IZ_SHOW")
check_eq "it runs on the zone's host and shows its zone" "$H2 az-b ACTIVE" \
    "$(jq -r '[."OS-EXT-SRV-ATTR:host", ."OS-EXT-AZ:availability_zone", .status] | join(" ")' <<<"$IZ_SHOW")"

# ---- scheduler hints ----
check "server create --hint same_host=inzone" os "${NOVA[@]}" server create --image blank \
    --flavor tiny --nic none --hint same_host="$IZ" near
check_eq "... lands on inzone's host" "$H2" "$(host_of near)"
O1_SHOW=$(os "${NOVA[@]}" server create --image blank --flavor tiny --nic none \
    --availability-zone nova:$H1 on1 -f json)
O1=$(jq -r .id <<<"$O1_SHOW")
check_eq "an admin's --availability-zone nova:HOST forces the host" "$H1" \
    "$(jq -r '."OS-EXT-SRV-ATTR:host"' <<<"$O1_SHOW")"
check "server create --hint different_host= (inzone, on1)" os "${NOVA[@]}" server create \
    --image blank --flavor tiny --nic none --hint different_host="$IZ" \
    --hint different_host="$O1" far
check_eq "... lands on the third host" "$H3" "$(host_of far)"
check "delete them" delete_all inzone near on1 far

# ---- a disabled host gets no new server ----
check "compute service set --disable (first host)" os compute service set --disable $H1 nova-compute
os "${NOVA[@]}" server create --image blank --flavor tiny --nic none --min 4 --max 4 \
    nodis >/dev/null
check_eq "four new servers: none on the disabled host" "" \
    "$(hosts_of nodis-1 nodis-2 nodis-3 nodis-4 | grep -x $H1)"
os compute service set --enable $H1 nova-compute >/dev/null
delete_all nodis-1 nodis-2 nodis-3 nodis-4 >/dev/null 2>&1

# ---- a host whose agent dies is down within service_down_time ----
ST_TOKEN=$(os token issue -f value -c id)
check_eq "before: the third host is up" up \
    "$(http GET "/compute/v2.1/os-services?host=$H3" | cut -d' ' -f2- | jq -r '.services[0].state')"
sim kill-agent 3
t0=$(date +%s.%N)
state=up
for _ in $(seq $((DOWN_TIME * 10 + 100))); do
    state=$(http GET "/compute/v2.1/os-services?host=$H3" | cut -d' ' -f2- |
        jq -r '.services[0].state' 2>/dev/null)
    [ "$state" = down ] && break
    sleep 0.1
done
took=$(echo "$(date +%s.%N) - $t0" | bc)
diag "the killed agent's host was shown down after ${took} s (service_down_time $DOWN_TIME s)"
check_eq "the host of the killed agent is down within service_down_time (+1 s), not before" \
    "down yes" "$state $(echo "$took <= $DOWN_TIME + 1 && $took >= 1" | bc | sed 's/1/yes/;s/0/no/')"
check_eq "hypervisor list shows it down" down "$(os hypervisor show $H3 -f value -c state)"
os "${NOVA[@]}" server create --image blank --flavor tiny --nic none afterdown >/dev/null
check_match "a new server goes to a host that is up" "^($H1|$H2)$" "$(host_of afterdown)"

delete_all afterdown >/dev/null 2>&1
sim stop >/dev/null 2>&1
ST_SIM_STATE=
stop_stratusd
done_testing
