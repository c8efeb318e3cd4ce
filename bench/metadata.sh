#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# metadata.sh - metadata service benchmark (issue 10).  Uses the optimised
# build in build/: its own stratusd, libvirtd (started if it does not run)
# and its own stratus-agent ([libvirt] seed = none), with the test guest.
# Prints figures only; never passes or fails on time.  Needs root and wrk.
#
#   bench/metadata.sh [SECONDS]      (default 10, per measurement)
#
# A server is created on a network without a router and stopped again (its
# guest is not needed: only its port and its record); a namespace of this
# run then takes the place of the guest on the network, with the port's tap
# name, MAC and address, so the agent's anti-spoofing rules let it through
# as they would the guest.  Then, with wrk at 1 and 8 connections (keep-alive):
#  - GET http://169.254.169.254/openstack/latest/meta_data.json from that
#    namespace: DHCP option 121's route into the qdhcp namespace, the
#    agent's proxy there (signing, one libcurl request to stratusd per
#    request), stratusd's metadata API;
#  - the same request sent directly to stratusd's internal path
#    (/internal/v1/metadata/...) with the headers and signature the proxy
#    would add.
# The difference is what the proxy costs.  Its network takes VNI 3951.
set -euo pipefail
secs=${1:-10}
case $secs in '' | *[!0-9]* | 0) echo "usage: bench/metadata.sh [SECONDS]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "metadata.sh needs root (libvirt, the agent)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "metadata.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage stratus-agent
NS=stx-bmd-$$
# What the run made goes while the agent still runs, so that it removes the
# bridge, VXLAN device, namespace and dnsmasq it made for them.
bench_cleanup_hook() {
    ip netns del "$NS" 2>/dev/null || true
    if [ -n "${TAP:-}" ]; then ip link del "$TAP" 2>/dev/null || true; fi
    if [ -n "${net:-}" ]; then
        os server delete --wait bmd-vm >/dev/null 2>&1 || true
        os port delete bmd-p1 >/dev/null 2>&1 || true
        os network delete bmd-net >/dev/null 2>&1 || true
        for _ in $(seq 30); do
            ip link show "brq${net:0:11}" >/dev/null 2>&1 || break
            sleep 1
        done
    fi
    return 0
}

printf '[network]\nvni_ranges = 3951:3960\n' >"$ST_TMP/stratusd.conf"
start_stratusd --config "$ST_TMP/stratusd.conf" >/dev/null
start_agent_with "seed = none" || { echo "the agent did not register" >&2; exit 1; }
upload_guest
os network create bmd-net >/dev/null
os subnet create --network bmd-net --subnet-range 10.30.1.0/24 bmd-sub >/dev/null
net=$(os network show bmd-net -f value -c id)
port=$(os port create --network bmd-net --fixed-ip subnet=bmd-sub,ip-address=10.30.1.11 \
    -f value -c id bmd-p1)
mac=$(os port show bmd-p1 -f value -c mac_address)
os "${NOVA[@]}" server create --image testguest --flavor tiny --nic port-id="$port" \
    --wait bmd-vm >/dev/null
vm=$(os server show bmd-vm -f value -c id)
os server stop bmd-vm
wait_status bmd-vm SHUTOFF 120 >/dev/null
for _ in $(seq 50); do ip link show "tap${port:0:11}" >/dev/null 2>&1 || break; sleep 0.2; done

dhcp_ip=$(sed -n 's/.*169\.254\.169\.254\/32,\([0-9.]*\).*/\1/p' \
    "$ST_DATA/network/dhcp/$net/opts" | head -n 1)
TAP=tap${port:0:11}
ip netns add "$NS"
ip link add "$TAP" type veth peer name stxb$$
ip link set stxb$$ netns "$NS"
ip -n "$NS" link set stxb$$ address "$mac"
ip -n "$NS" link set lo up
ip -n "$NS" link set stxb$$ up
ip -n "$NS" addr add 10.30.1.11/24 dev stxb$$
ip -n "$NS" route add 169.254.169.254/32 via "$dhcp_ip"
ip link set "$TAP" master "brq${net:0:11}"
ip link set "$TAP" up
url=http://169.254.169.254/openstack/latest/meta_data.json
ok=
for _ in $(seq 60); do
    if ip netns exec "$NS" curl -s -m 2 "$url" | grep -q "\"uuid\": \"$vm\""; then ok=1; break; fi
    sleep 0.5
done
[ -n "$ok" ] || { echo "the namespace gets no metadata through the proxy" >&2; exit 1; }

secret=$(cat "$ST_DATA/metadata_secret")
sig=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), (sys.argv[2]+" "+sys.argv[3]).encode(), hashlib.sha256).hexdigest())' "$secret" "$net" 10.30.1.11)
direct=$ST_URL/internal/v1/metadata/openstack/latest/meta_data.json
hdrs=(-H "X-Forwarded-For: 10.30.1.11" -H "X-Neutron-Network-ID: $net" -H "X-Instance-ID-Signature: $sig")
curl -sf "${hdrs[@]}" "$direct" | grep -q "\"uuid\": \"$vm\"" ||
    { echo "the signed direct request fails" >&2; exit 1; }

# run_parse: wrk's output (--latency) to "p50 X ms, p99 Y ms, Z req/s"
run_parse() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
        END { printf "p50 %.2f ms, p99 %.2f ms, %.0f req/s%s", p50, p99, rps, bad ? ", " bad " non-2xx" : "" }'
}
echo "# metadata service, GET openstack/latest/meta_data.json, wrk ${secs}s each, keep-alive"
for c in 1 8; do
    printf 'metadata through the namespace proxy (c=%s): %s\n' "$c" \
        "$(ip netns exec "$NS" wrk --latency -t "$c" -c "$c" -d "${secs}s" "$url" | run_parse)"
    printf 'metadata direct to stratusd, signed (c=%s): %s\n' "$c" \
        "$(wrk --latency -t "$c" -c "$c" -d "${secs}s" "${hdrs[@]}" "$direct" | run_parse)"
done
printf "agent RSS %s MiB, stratusd RSS %s MiB\n" "$(mib "$(rss_kib "$ST_AGENT_PID")")" \
    "$(mib "$(rss_kib "$ST_PID")")"
