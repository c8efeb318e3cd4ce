#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t006 - Neutron v2.0 through Debian's openstack CLI, with no agent and no
# server: networks, subnets, ports, routers (interfaces, external gateway,
# routes), floating IPs, security groups and rules, tags and quotas; the
# project's default security group made on first use with Neutron's rules;
# filters, fields, sorting and pages; and the errors, each with Neutron's
# status and a NeutronError body: an overlapping subnet (400), an address
# outside the CIDR (400) or taken (409), a network with ports (409), another
# project's network (404), a bad CIDR (400), provider attributes from a
# non-admin (403).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"

# neutron METHOD PATH [JSON]: a raw call with $ST_TOKEN; sets CODE, the body
# is in $ST_TMP/body.
neutron() {
    local method=$1 path=$2 data=${3:-}
    local args=(-s -o "$ST_TMP/body" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $ST_TOKEN"
        -H 'Content-Type: application/json')
    [ -n "$data" ] && args+=(-d "$data")
    CODE=$(curl "${args[@]}" "$ST_URL/network/v2.0$path")
}

# json_get EXPR: evaluates EXPR on the last body, bound to 'b'.
json_get() {
    "$PY" -c "import json,sys; b=json.load(open(sys.argv[1])); print($1)" "$ST_TMP/body"
}

# check_fault "what" STATUS TYPE: the last call failed with STATUS and a
# NeutronError of TYPE (type, message and detail all present).
check_fault() {
    local got
    got=$(json_get "'%s %s %s' % (b['NeutronError']['type'], bool(b['NeutronError']['message']), b['NeutronError']['detail'] == '')" 2>/dev/null)
    if [ "$CODE" = "$2" ] && [ "$got" = "$3 True True" ]; then
        ok "$1"
    else
        not_ok "$1"
        echo "#   expected: $2 $3"
        echo "#   actual:   $CODE $(head -c 400 "$ST_TMP/body")"
    fi
}

ST_TOKEN=$(os token issue -f value -c id)
admin_project=$(os project show admin -f value -c id)

# ---- discovery ----------------------------------------------------------
out=$(os extension list --network -f value -c Alias 2>&1 | sort | tr '\n' ' ')
check_match "extension list names router, external-net, security-group, quotas" \
    'external-net .*quotas .*router .*security-group ' "$out"
neutron GET /extensions/router
check_eq "GET /extensions/router is 200" 200 "$CODE"
neutron GET /extensions/dhcp_agent_scheduler
check_fault "an extension that is not implemented is 404" 404 HTTPNotFound

# ---- networks ------------------------------------------------------------
check "network create" os network create --description "first net" net1
out=$(os network show net1 -f json)
check_match "network is ACTIVE" '"status": "ACTIVE"' "$out"
check_match "project network gets vxlan from vni_ranges" '"provider:network_type": "vxlan"' "$out"
check_match "first VNI of the range" '"provider:segmentation_id": 1001' "$out"
check_match "vxlan MTU is 1450" '"mtu": 1450' "$out"
check_match "description is kept" '"description": "first net"' "$out"
net1=$(os network show net1 -f value -c id)
neutron GET "/networks/$net1"
check_eq "network has tenant_id and project_id, revision_number, tags, created_at" \
    "True True True True True" \
    "$(json_get "' '.join(str(k in b['network']) for k in ('tenant_id', 'project_id', 'revision_number', 'tags', 'created_at'))")"
check "network set --name --mtu" os network set --name net1b --mtu 1400 net1
out=$(os network show net1b -f value -c mtu -c revision_number | tr '\n' ' ')
check_eq "network set changed the MTU and bumped the revision" "1400 2 " "$out"
os network set --name net1 net1b >/dev/null
check "network create net2 (second VNI)" os network create net2
out=$(os network show net2 -f value -c provider:segmentation_id)
check_eq "second network gets the next VNI" "1002" "$out"
out=$(os network list -f value -c Name | sort | tr '\n' ' ')
check_eq "network list" "net1 net2 " "$out"
check "network delete (no ports)" os network delete net2
out=$(os network list -f value -c Name | tr '\n' ' ')
check_eq "network list after delete" "net1 " "$out"

# ---- subnets ---------------------------------------------------------------
check "subnet create" os subnet create --network net1 --subnet-range 10.0.0.0/24 \
    --dns-nameserver 192.0.2.53 sub1
out=$(os subnet show sub1 -f json)
check_match "gateway defaults to the first address" '"gateway_ip": "10.0.0.1"' "$out"
check_match "DNS server is kept" '192.0.2.53' "$out"
out=$(os subnet show sub1 -f value -c allocation_pools)
check_match "pool defaults to the rest" "'start': '10.0.0.2', 'end': '10.0.0.254'" "$out"
sub1=$(os subnet show sub1 -f value -c id)
out=$(os port list --network net1 --device-owner network:dhcp -f value -c "Fixed IP Addresses")
check_match "a DHCP port holds the first pool address" "10.0.0.2" "$out"
check "subnet create with a pool and no gateway" os subnet create --network net1 \
    --subnet-range 10.0.1.0/24 --gateway none --allocation-pool start=10.0.1.100,end=10.0.1.102 \
    --no-dhcp sub2
out=$(os subnet show sub2 -f json)
check_match "no gateway" '"gateway_ip": null' "$out"
out=$(os subnet show sub2 -f value -c allocation_pools)
check_match "the given pool" "'start': '10.0.1.100', 'end': '10.0.1.102'" "$out"
check "subnet set --name" os subnet set --name sub2b sub2
check "overlapping CIDRs across networks are allowed" sh -c \
    "$OPENSTACK network create net3 >/dev/null && $OPENSTACK subnet create --network net3 --subnet-range 10.0.0.0/24 sub3 >/dev/null"

neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"10.0.0.128/25\", \"ip_version\": 4}}"
check_fault "overlapping subnet on the same network is 400" 400 InvalidInput
neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"10.0.300.0/24\", \"ip_version\": 4}}"
check_fault "an invalid CIDR is 400" 400 HTTPBadRequest
neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"10.0.5.1/24\", \"ip_version\": 4}}"
check_fault "a CIDR with host bits is 400" 400 HTTPBadRequest
neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"10.0.6.0/24\", \"ip_version\": 4, \"allocation_pools\": [{\"start\": \"10.0.6.1\", \"end\": \"10.0.6.10\"}]}}"
check_fault "a pool holding the gateway is 409" 409 GatewayConflictWithAllocationPools
neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"10.0.7.0/24\", \"ip_version\": 4, \"allocation_pools\": [{\"start\": \"10.0.7.10\", \"end\": \"10.0.8.10\"}]}}"
check_fault "a pool outside the CIDR is 400" 400 OutOfBoundsAllocationPool
neutron POST /subnets "{\"subnet\": {\"network_id\": \"$net1\", \"cidr\": \"fd00::/64\", \"ip_version\": 4}}"
check_fault "a CIDR that is not of ip_version is 400" 400 InvalidInput

# ---- ports -----------------------------------------------------------------
check "port create" os port create --network net1 p1
out=$(os port show p1 -f json)
check_match "port gets the first free address" '"ip_address": "10.0.0.3"' "$out"
check_match "port MAC is fa:16:3e:xx:xx:xx" '"mac_address": "fa:16:3e(:[0-9a-f]{2}){3}"' "$out"
check_match "port is DOWN until an agent says otherwise" '"status": "DOWN"' "$out"
check "port create --fixed-ip ip-address=10.0.0.50" os port create --network net1 \
    --fixed-ip subnet=sub1,ip-address=10.0.0.50 --allowed-address ip-address=10.0.0.0/24 p2
out=$(os port show p2 -f json)
check_match "the address asked for" '"ip_address": "10.0.0.50"' "$out"
check_match "allowed address pair with the port's MAC" '"ip_address": "10.0.0.0/24"' "$out"
check "port set --fixed-ip (add an address on sub2)" os port set --fixed-ip subnet=sub2b p2
out=$(os port show p2 -f value -c fixed_ips)
check_match "the port has both addresses" "10.0.0.50.*10.0.1.100|10.0.1.100.*10.0.0.50" "$out"
check "port set --no-security-group --disable-port-security" os port set \
    --no-security-group --no-allowed-address --disable-port-security p2
out=$(os port show p2 -f value -c port_security_enabled -c security_group_ids | tr '\n' ' ')
check_eq "port security off, no groups" "False [] " "$out"
out=$(os port list --fixed-ip ip-address=10.0.0.50 -f value -c Name)
check_eq "port list filtered by fixed IP" "p2" "$out"

neutron POST /ports "{\"port\": {\"network_id\": \"$net1\", \"fixed_ips\": [{\"ip_address\": \"10.9.9.9\"}]}}"
check_fault "an address outside every subnet of the network is 400" 400 InvalidIpForNetwork
neutron POST /ports "{\"port\": {\"network_id\": \"$net1\", \"fixed_ips\": [{\"subnet_id\": \"$sub1\", \"ip_address\": \"10.0.1.5\"}]}}"
check_fault "an address outside the named subnet is 400" 400 InvalidIpForSubnet
neutron POST /ports "{\"port\": {\"network_id\": \"$net1\", \"fixed_ips\": [{\"ip_address\": \"10.0.0.50\"}]}}"
check_fault "an address in use is 409" 409 IpAddressAlreadyAllocated
sub2=$(os subnet show sub2b -f value -c id)
extra=()
for _ in 1 2 3; do
    neutron POST /ports "{\"port\": {\"network_id\": \"$net1\", \"fixed_ips\": [{\"subnet_id\": \"$sub2\"}]}}"
    [ "$CODE" = 201 ] && extra+=("$(json_get "b['port']['id']")")
done
check_eq "two more ports fit in the pool of three" 2 "${#extra[@]}"
check_fault "an exhausted pool is 409" 409 IpAddressGenerationFailure
neutron DELETE "/networks/$net1"
check_fault "deleting a network with ports in use is 409" 409 NetworkInUse

# ---- filters, fields, sorting, pages --------------------------------------
neutron GET "/ports?network_id=$net1&fields=id&fields=name&sort_key=name&sort_dir=desc"
check_eq "fields= keeps only those fields" "['id', 'name']" \
    "$(json_get "sorted(b['ports'][0].keys())")"
check_eq "sort_key=name&sort_dir=desc" "p2" "$(json_get "b['ports'][0]['name']")"
neutron GET "/networks?limit=1&sort_key=name"
check_eq "limit=1 gives one network and a next link" "1 next" \
    "$(json_get "'%d %s' % (len(b['networks']), b['networks_links'][0]['rel'])")"
next=$(json_get "b['networks_links'][0]['href']")
CODE=$(curl -s -o "$ST_TMP/body" -w '%{http_code}' -H "X-Auth-Token: $ST_TOKEN" "$next")
check_eq "the next page has the second network" "net3" "$(json_get "b['networks'][0]['name']")"
neutron GET "/networks?router:external=False&name=net1"
check_eq "filter by a boolean and a name" "net1" "$(json_get "' '.join(n['name'] for n in b['networks'])")"

# ---- security groups ---------------------------------------------------------
out=$(os security group rule list default -f value -c Direction -c Ethertype \
    -c "Remote Security Group" | awk '{print $2, $1, ($3 == "None" ? "any" : "group")}' | sort | tr '\n' ',')
check_eq "default group: egress anywhere, ingress from the group, IPv4 and IPv6" \
    "egress IPv4 any,egress IPv6 any,ingress IPv4 group,ingress IPv6 group," "$out"
out=$(os security group list -f value -c Name | grep -c '^default$')
check_eq "one default group per project" 1 "$out"
check "security group create" os security group create --description web web
out=$(os security group rule list web -f value -c Direction | sort | tr '\n' ' ')
check_eq "a new group allows egress only" "egress egress " "$out"
check "security group rule create --protocol icmp" os security group rule create \
    --protocol icmp web
check "security group rule create --protocol tcp --dst-port 22" os security group rule create \
    --protocol tcp --dst-port 22 --remote-ip 192.0.2.0/24 web
out=$(os security group rule list web --protocol tcp -f value -c "Port Range" -c "IP Range" | tr '\n' ' ')
check_eq "the tcp rule" "192.0.2.0/24 22:22 " "$out"
neutron POST /security-group-rules "{\"security_group_rule\": {\"security_group_id\": \"$(os security group show web -f value -c id)\", \"direction\": \"ingress\", \"protocol\": \"icmp\", \"ethertype\": \"IPv4\", \"remote_ip_prefix\": \"0.0.0.0/0\"}}"
check_fault "a duplicate rule is 409" 409 SecurityGroupRuleExists
check "security group set --name" os security group set --name web2 web
check "port set --security-group web2" os port set --security-group web2 p1
neutron DELETE "/security-groups/$(os security group show web2 -f value -c id)"
check_fault "a group in use is 409" 409 SecurityGroupInUse
out=$(os security group create default 2>&1)
check_match "a second 'default' group is refused" '409|already exists' "$out"

# ---- routers and floating IPs ----------------------------------------------
check "router create" os router create r1
check "router add subnet" os router add subnet r1 sub1
out=$(os port list --device-owner network:router_interface -f value -c "Fixed IP Addresses")
check_match "the interface holds the subnet's gateway address" "10.0.0.1" "$out"
check "external network create (flat, admin)" os network create --external \
    --provider-network-type flat --provider-physical-network physnet1 public
out=$(os network show public -f value -c mtu -c router:external | tr '\n' ' ')
check_eq "flat external network: MTU 1500, router:external" "1500 True " "$out"
check "external subnet create" os subnet create --network public --no-dhcp \
    --subnet-range 203.0.113.0/24 --allocation-pool start=203.0.113.10,end=203.0.113.20 pubsub
check "router set --external-gateway" os router set --external-gateway public r1
out=$(os router show r1 -f json)
check_match "gateway on the external network with SNAT" '"enable_snat": true' "$out"
check_match "gateway address from the external pool" '"ip_address": "203.0.113.10"' "$out"
check "router set --route" os router set --route destination=192.168.5.0/24,gateway=10.0.0.254 r1
out=$(os router show r1 -f value -c routes)
check_match "the static route" "192.168.5.0/24.*10.0.0.254" "$out"
out=$(os router set --route destination=192.168.6.0/24,gateway=172.16.0.1 r1 2>&1)
check_match "a next hop off the router's subnets is refused" '400|not connected' "$out"
check "floating ip create EXTNET" os floating ip create public
fip=$(os floating ip list -f value -c "Floating IP Address")
check_eq "floating IP from the external pool" "203.0.113.11" "$fip"
check "floating ip set --port" os floating ip set --port p1 "$fip"
out=$(os floating ip show "$fip" -f json)
check_match "associated with p1's address" '"fixed_ip_address": "10.0.0.3"' "$out"
check_match "through router r1" "\"router_id\": \"$(os router show r1 -f value -c id)\"" "$out"
out=$(os router remove subnet r1 sub1 2>&1)
check_match "an interface a floating IP needs is kept (409)" '409|required by one or more floating' "$out"
check "floating ip unset --port" os floating ip unset --port "$fip"
out=$(os floating ip show "$fip" -f value -c port_id)
check_eq "disassociated" "None" "$out"
neutron POST /floatingips "{\"floatingip\": {\"floating_network_id\": \"$net1\"}}"
check_fault "a floating IP from an internal network is 400" 400 BadRequest
check "floating ip delete" os floating ip delete "$fip"
check "router unset --route" os router unset --route destination=192.168.5.0/24,gateway=10.0.0.254 r1
check "router remove subnet" os router remove subnet r1 sub1
check "router unset --external-gateway" os router unset --external-gateway r1
check "router delete" os router delete r1

# ---- tags and quotas ---------------------------------------------------------
check "network set --tag" os network set --tag blue --tag green net1
out=$(os network list --tags blue -f value -c Name)
check_eq "network list --tags" "net1" "$out"
check "quota set --networks 3" os quota set --networks 3 admin
out=$(os quota list --network --detail --project admin -f value -c Resource -c "In Use" -c Limit | grep '^networks ')
check_eq "quota list --detail shows the use and the new limit" "networks 3 3" "$out"
neutron POST /networks '{"network": {"name": "one-too-many"}}'
check_fault "over quota is 409 OverQuota" 409 OverQuota
neutron DELETE "/quotas/$admin_project"
check_eq "quota reset is 204" 204 "$CODE"

# ---- another project ----------------------------------------------------------
os project create demo >/dev/null
os user create --password alice-pw --project demo alice >/dev/null
os role add --project demo --user alice member >/dev/null
use_user alice alice-pw demo
ST_TOKEN=$(os token issue -f value -c id)
neutron GET "/networks/$net1"
check_fault "another project's network is 404" 404 NetworkNotFound
neutron DELETE "/networks/$net1"
check_fault "deleting another project's network is 404" 404 NetworkNotFound
neutron POST /networks '{"network": {"name": "x", "provider:network_type": "vlan"}}'
check_fault "a non-admin setting provider:network_type is 403" 403 PolicyNotAuthorized
out=$(os network list -f value -c Name | sort | tr '\n' ' ')
check_eq "the member sees only the external network" "public " "$out"
check "member: network create, subnet create" sh -c \
    "$OPENSTACK network create anet >/dev/null && $OPENSTACK subnet create --network anet --subnet-range 10.0.0.0/24 asub >/dev/null"
out=$(os network show anet -f json)
check_fault_absent=$(printf '%s' "$out" | grep -c '"provider:network_type": "vxlan"')
check_eq "provider attributes are hidden from members" 0 "$check_fault_absent"
out=$(os security group list -f value -c Name | tr '\n' ' ')
check_eq "the member's project got its own default group" "default " "$out"
check "member: network delete (only the DHCP port left)" sh -c \
    "$OPENSTACK subnet delete asub && $OPENSTACK network delete anet"
use_admin
ST_TOKEN=$(os token issue -f value -c id)

# ---- clean up ------------------------------------------------------------------
check "port delete" os port delete p1 p2 "${extra[@]}"
check "subnet delete" os subnet delete sub1 sub2b
check "network delete" os network delete net1 net3
check "security group delete" os security group delete web2
out=$(os port list --network public -f value -c ID)
check_eq "no port is left on the external network" "" "$out"

stop_stratusd
plan "$ST_N"
done_testing
