#!/bin/bash
# t014 - the metadata service: a real networked test guest booted with no
# seed disk ([libvirt] seed = none, no config drive) takes its hostname, key
# and user-data from http://169.254.169.254 through the agent's proxy in the
# DHCP namespace (DHCP option 121, the network has no router), then through
# the router's namespace once it has one; stratusd refuses unsigned and badly
# signed requests with 403; a namespace this test makes, plugged in as a
# port of the network, gets its own answer with its own address and nothing
# at all when it spoofs the guest's address (the port's anti-spoofing rules
# drop the packets); the password is posted once.
. "$(dirname "$0")/lib.sh"
plan 37

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
FAKENS=stx-md-$$
cleanup_md() {
    ip netns del "$FAKENS" 2>/dev/null
    [ -n "${FAKETAP:-}" ] && ip link del "$FAKETAP" 2>/dev/null
}
# T014_LOGS=DIR keeps the daemons' logs there.
keep_logs() { [ -n "${T014_LOGS:-}" ] && mkdir -p "$T014_LOGS" && cp "$ST_TMP"/*.log "$ST_TMP"/*.err "$T014_LOGS"/ 2>/dev/null; return 0; }
trap 'keep_logs; cleanup_md; st_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# VNIs of its own (t008: 3001-3100, t009: 3101-3300, benchmarks: 3901-3960).
printf '[network]\nvni_ranges = 3601:3610\n' >"$ST_TMP/stratusd.conf"
start_stratusd --config "$ST_TMP/stratusd.conf" || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"
SECRET=$(cat "$ST_DATA/metadata_secret" 2>/dev/null)
check_match "bootstrap made DATA_DIR/metadata_secret (mode 600)" '^600 .{43}$' \
    "$(stat -c %a "$ST_DATA/metadata_secret") $SECRET"
start_libvirt || { not_ok "libvirtd"; done_testing; }
if start_agent_with "seed = none"; then ok "the agent runs with [libvirt] seed = none"; else not_ok "agent"; fi
HOST=$(os hypervisor list -f value -c "Hypervisor Hostname" | head -n 1)
check "upload the test guest" upload_guest

# sign NETWORK ADDRESS: the proxy's signature (metadata/sign.h).
sign() {
    python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), (sys.argv[2]+" "+sys.argv[3]).encode(), hashlib.sha256).hexdigest())' "$SECRET" "$1" "$2"
}
md() { # PATH NETWORK ADDRESS SIGNATURE: status and body from stratusd's internal path
    curl -s -o "$ST_TMP/md-body" -w '%{http_code}' -H "X-Forwarded-For: $3" \
        -H "X-Neutron-Network-ID: $2" ${4:+-H "X-Instance-ID-Signature: $4"} \
        "$ST_URL/internal/v1/metadata/$1"
    echo " $(head -c 300 "$ST_TMP/md-body")"
}

check "network create net1" os network create net1
check "subnet create sub1 (no router)" os subnet create --network net1 \
    --subnet-range 10.20.1.0/24 sub1
net1=$(os network show net1 -f value -c id)
# An ed25519 public key (any 32 bytes make a well-formed one).
python3 -c 'import base64,os,struct; b=b"ssh-ed25519"; print("ssh-ed25519", base64.b64encode(struct.pack(">I",len(b))+b+struct.pack(">I",32)+os.urandom(32)).decode(), "md-key@t014")' >"$ST_TMP/k1.pub"
check "keypair create k1" os keypair create --public-key "$ST_TMP/k1.pub" k1
cat >"$ST_TMP/ud" <<'EOF'
#!/bin/sh
echo "USERDATA-FROM-METADATA $(hostname)"
EOF
os port create --network net1 --fixed-ip subnet=sub1,ip-address=10.20.1.11 p1 >/dev/null
check "server create vm1 (no config drive, key, user-data)" os "${NOVA[@]}" server create \
    --image testguest --flavor tiny --nic port-id="$(os port show p1 -f value -c id)" \
    --key-name k1 --user-data "$ST_TMP/ud" --wait md-vm1
vm1=$(os server show md-vm1 -f value -c id)
check_eq "no seed disk in the instance directory" "" \
    "$(ls "$ST_TMP/instances/$vm1" | grep -E '^disk\.(config|seed)$')"
dom=$(os server show md-vm1 -f value -c OS-EXT-SRV-ATTR:instance_name)
check_fail "no CD-ROM in the domain" sh -c "virsh -q -c qemu:///system dumpxml $dom | grep -q cdrom"
opts=$(cat "$ST_DATA"/network/dhcp/"$net1"/opts 2>/dev/null)
check_match "DHCP option 121 routes 169.254.169.254 via the DHCP port (no router)" \
    'classless-static-route,169\.254\.169\.254/32,10\.20\.1\.[0-9]+' "$opts"
check_match "a metadata proxy listens in qdhcp-$net1" '169\.254\.169\.254:80' \
    "$(ip netns exec "qdhcp-$net1" ss -ltn 2>/dev/null)"

log=$(wait_console md-vm1 'stratus-guest: ready')
grep -a 'stratus-guest:' <<<"$log" | sed 's/^/# guest: /' | head -n 20
check_match "the guest found no seed disk and asked the metadata service" \
    'seed metadata from http://169\.254\.169\.254' "$log"
check_match "hostname and instance id from the metadata service" \
    "hostname=md-vm1 instance-id=$vm1 ip=10\.20\.1\.11/24 userdata=ok seed=metadata" "$log"
check_match "the key from the metadata service" 'ssh-key=md-key@t014' "$log"
check_match "the user-data from the metadata service ran" 'USERDATA-FROM-METADATA md-vm1' "$log"

# stratusd's internal path: only a proxy's signature opens it.
out=$(md openstack/latest/meta_data.json "$net1" 10.20.1.11)
check_match "unsigned request: 403" '^403 ' "$out"
out=$(md openstack/latest/meta_data.json "$net1" 10.20.1.11 "$(sign "$net1" 10.20.1.12)")
check_match "signature of another address: 403" '^403 ' "$out"
out=$(md openstack/latest/meta_data.json "$net1" 10.20.1.11 0000000000000000000000000000000000000000000000000000000000000000)
check_match "bad signature: 403" '^403 ' "$out"
out=$(md openstack/latest/meta_data.json "$net1" 10.20.1.11 "$(sign "$net1" 10.20.1.11)" | tr '\n' ' ')
check_match "signed request: 200 with the guest's meta_data.json" "^200 .*\"uuid\": \"$vm1\"" "$out"
out=$(md latest/meta-data/public-keys/0/openssh-key "$net1" 10.20.1.11 "$(sign "$net1" 10.20.1.11)")
check_match "EC2 tree: public-keys/0/openssh-key" '^200 ssh-ed25519 .* md-key@t014' "$out"
out=$(md latest/meta-data/local-ipv4 "$net1" 10.20.1.11 "$(sign "$net1" 10.20.1.11)")
check_eq "EC2 tree: local-ipv4" "200 10.20.1.11" "$out"

# A namespace of this test as a port of net1 on this host: anti-spoofing
# rules are the agent's, for the tap named after the port.
pf=$(os port create --network net1 --fixed-ip subnet=sub1,ip-address=10.20.1.50 \
    --device-owner compute:nova --host "$HOST" -f value -c id pf)
pfmac=$(os port show pf -f value -c mac_address)
FAKETAP=tap${pf:0:11}
ip netns add "$FAKENS"
ip link add "$FAKETAP" type veth peer name stxmd$$
ip link set stxmd$$ netns "$FAKENS"
ip -n "$FAKENS" link set stxmd$$ address "$pfmac"
ip -n "$FAKENS" link set lo up
ip -n "$FAKENS" link set stxmd$$ up
ip -n "$FAKENS" addr add 10.20.1.50/24 dev stxmd$$
dhcp_ip=$(sed -n 's/.*169\.254\.169\.254\/32,\([0-9.]*\).*/\1/p' <<<"$opts" | head -n 1)
ip -n "$FAKENS" route add 169.254.169.254/32 via "$dhcp_ip"
ip link set "$FAKETAP" master "brq${net1:0:11}"
ip link set "$FAKETAP" up
fake() { ip netns exec "$FAKENS" "$@"; }
# Its own address: an answer (404: the port belongs to no server).
got=
for _ in $(seq 30); do
    got=$(fake curl -s -m 3 -o /dev/null -w '%{http_code}' http://169.254.169.254/openstack/latest/meta_data.json)
    [ "$got" = 404 ] && break
    sleep 1
done
check_eq "the test namespace with its port's own address gets an answer (404: no server)" 404 "$got"
# The guest's address, spoofed: nothing comes back, not even a TCP reset.
ip -n "$FAKENS" addr flush dev stxmd$$
ip -n "$FAKENS" addr add 10.20.1.11/24 dev stxmd$$
ip -n "$FAKENS" route add 169.254.169.254/32 via "$dhcp_ip"
# The DHCP port's MAC by hand: only the IP is spoofed (the ARP rule would
# drop the spoofer's ARP request first).
dhcpmac=$(os port list --network net1 --device-owner network:dhcp -f value -c "MAC Address" | head -n 1)
ip -n "$FAKENS" neigh replace "$dhcp_ip" lladdr "$dhcpmac" dev stxmd$$ nud permanent
insegs() { ip netns exec "qdhcp-$net1" awk '/^Tcp:/ && $2 ~ /^[0-9]/ {print $11}' /proc/net/snmp; }
cnt0=$(insegs)
out=$(fake curl -s -m 5 -w '%{http_code}' http://169.254.169.254/openstack/latest/meta_data.json 2>&1)
rc=$?
check_eq "spoofing the guest's address gets nothing (curl times out, no HTTP status)" "28 000" "$rc $out"
check_fail "no byte of the guest's metadata reached the spoofer" grep -q "$vm1" <<<"$out"
cnt1=$(insegs)
check_eq "no TCP segment of the spoofer reached the DHCP namespace" "$cnt0" "$cnt1"

# The password: posted once.
out=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'pw-from-guest' \
    -H "X-Forwarded-For: 10.20.1.11" -H "X-Neutron-Network-ID: $net1" \
    -H "X-Instance-ID-Signature: $(sign "$net1" 10.20.1.11)" \
    "$ST_URL/internal/v1/metadata/openstack/latest/password")
check_eq "POST password" 200 "$out"
out=$(md openstack/latest/password "$net1" 10.20.1.11 "$(sign "$net1" 10.20.1.11)")
check_eq "GET password" "200 pw-from-guest" "$out"
out=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'again' \
    -H "X-Forwarded-For: 10.20.1.11" -H "X-Neutron-Network-ID: $net1" \
    -H "X-Instance-ID-Signature: $(sign "$net1" 10.20.1.11)" \
    "$ST_URL/internal/v1/metadata/openstack/latest/password")
check_eq "a second POST of the password: 409" 409 "$out"

# With a router the subnet loses option 121 and the router's namespace answers.
check "router create r1; add subnet sub1" sh -c "$OPENSTACK router create r1 >/dev/null && $OPENSTACK router add subnet r1 sub1"
r1=$(os router show r1 -f value -c id)
for _ in $(seq 30); do
    opts=$(cat "$ST_DATA"/network/dhcp/"$net1"/opts 2>/dev/null)
    grep -q 169.254.169.254 <<<"$opts" || break
    sleep 1
done
check_fail "a routed subnet gets no metadata route by DHCP" grep -q 169.254.169.254 <<<"$opts"
for _ in $(seq 30); do
    ip netns exec "qrouter-$r1" ss -ltn 2>/dev/null | grep -q '169.254.169.254:80' && break
    sleep 1
done
check_match "a metadata proxy listens in qrouter-$r1" '169\.254\.169\.254:80' \
    "$(ip netns exec "qrouter-$r1" ss -ltn 2>/dev/null)"
# The test namespace, back at its own address, through the router.
ip -n "$FAKENS" addr flush dev stxmd$$
ip -n "$FAKENS" addr add 10.20.1.50/24 dev stxmd$$
ip -n "$FAKENS" route replace default via 10.20.1.1
got=
for _ in $(seq 30); do
    got=$(fake curl -s -m 3 -o /dev/null -w '%{http_code}' http://169.254.169.254/latest/meta-data/)
    [ "$got" = 404 ] && break
    sleep 1
done
check_eq "through the router's proxy the port's own address gets an answer (404)" 404 "$got"

# Everything this test made goes, and the agent removes what it built for it.
cleanup_md
check "server delete" os server delete --wait md-vm1
os router remove subnet r1 sub1 >/dev/null 2>&1
os router delete r1 >/dev/null 2>&1
os port delete pf p1 >/dev/null 2>&1
os network delete net1 >/dev/null 2>&1
gone=1
for _ in $(seq 60); do
    gone=1
    ip netns list | grep -qE "qdhcp-$net1|qrouter-$r1" && gone=0
    ip link show "brq${net1:0:11}" >/dev/null 2>&1 && gone=0
    [ "$gone" = 1 ] && break
    sleep 1
done
check_eq "the agent removed the network's bridge and namespaces (and their proxies)" 1 "$gone"
kill_agent TERM
stop_stratusd
done_testing
