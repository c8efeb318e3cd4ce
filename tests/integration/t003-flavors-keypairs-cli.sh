#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t003 - Nova flavors and keypairs through Debian's openstack CLI: the
# bootstrap's default flavors; flavor create/list/show/set/unset/delete with
# properties (extra specs) and descriptions; private flavors and their
# access list, seen by one project's member and hidden (404) from
# another's; keypair generation and import of RSA, Ed25519 and ECDSA keys
# with Nova's MD5 fingerprints; the errors (400, 403, 404, 409); and the raw
# JSON of each call checked against Tempest's response schemas at the
# microversions where the representation changes.
. "$(dirname "$0")/lib.sh"

TS=$ST_TOP/tests/integration/tempest_schema.py
PY=/usr/bin/python3

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"

# nova TOKEN MICROVERSION METHOD PATH [JSON]: a raw compute call; sets CODE,
# the body is in $ST_TMP/body.
nova() {
    local token=$1 mv=$2 method=$3 path=$4 data=${5:-}
    local args=(-s -o "$ST_TMP/body" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $token"
        -H "OpenStack-API-Version: compute $mv" -H 'Content-Type: application/json')
    [ -n "$data" ] && args+=(-d "$data")
    CODE=$(curl "${args[@]}" "$ST_URL/compute/v2.1$path")
}

# check_schema "what" MODULE ATTRIBUTE: the last nova call's status and body
# against Tempest's compute schema MODULE.ATTRIBUTE.
check_schema() {
    local what=$1 out
    if out=$("$PY" "$TS" --status "$CODE" compute "$2" "$3" <"$ST_TMP/body" 2>&1); then
        ok "$what"
    else
        not_ok "$what"
        echo "#   $out"
        head -c 600 "$ST_TMP/body" | sed 's/^/#   body: /'
        echo
    fi
}

# json_get EXPR: evaluates EXPR on the last body, bound to 'b'.
json_get() {
    "$PY" -c "import json,sys; b=json.load(open(sys.argv[1])); print($1)" "$ST_TMP/body"
}

body() { cat "$ST_TMP/body"; }

admin_token=$(os token issue -f value -c id)

# ---- bootstrap's default flavors -----------------------------------------
out=$(os flavor list -f value -c Name 2>&1 | sort | tr '\n' ' ')
check_eq "bootstrap's default flavors are listed" \
    "m1.large m1.medium m1.small m1.tiny small tiny " "$out"
out=$(os flavor show tiny -f value -c vcpus -c ram -c disk 2>&1 | tr '\n' ' ')
check_eq "flavor 'tiny' is 1 vCPU, 128 MB, 1 GB (disk, ram, vcpus)" "1 128 1 " "$out"
out=$(os flavor show small -f value -c vcpus -c ram -c disk 2>&1 | tr '\n' ' ')
check_eq "flavor 'small' is 1 vCPU, 256 MB, 2 GB (disk, ram, vcpus)" "2 256 1 " "$out"

# ---- flavor create / show / set / unset ----------------------------------
check "flavor create with properties" os flavor create --vcpus 2 --ram 512 --disk 5 \
    --ephemeral 1 --swap 64 --property hw:cpu_sockets=2 --property custom:a=b f1
out=$(os flavor show f1 -f json 2>&1)
check_match "flavor show: sizes" '"ram": 512' "$out"
check_match "flavor show: swap and ephemeral" \
    '"OS-FLV-EXT-DATA:ephemeral": 1' "$(printf '%s' "$out" | tr -d '\n')"
check_match "flavor show: properties" "hw:cpu_sockets.*2" "$out"
check "flavor set --property" os flavor set --property hw:mem_page_size=large f1
out=$(os flavor show f1 -f value -c properties 2>&1)
check_match "flavor show lists the new property" "'hw:mem_page_size': 'large'" "$out"
check "flavor unset --property" os flavor unset --property hw:mem_page_size f1
out=$(os flavor show f1 -f value -c properties 2>&1)
check_eq "flavor unset removed only that property" "{'custom:a': 'b', 'hw:cpu_sockets': '2'}" "$out"
check "flavor set --description (2.55)" os --os-compute-api-version 2.55 flavor set \
    --description "two sockets" f1
out=$(os --os-compute-api-version 2.55 flavor show f1 -f value -c description 2>&1)
check_eq "flavor show: description" "two sockets" "$out"
out=$(os --os-compute-api-version 2.86 flavor set --property hw:cpu_sockets=two f1 2>&1)
check_match "2.86: hw:cpu_sockets must be an integer" "is not a valid integer value" "$out"
out=$(os flavor show f1 -f value -c properties 2>&1)
check_match "the rejected property was not stored" "'hw:cpu_sockets': '2'" "$out"
out=$(os flavor create --ram 64 --disk 1 f1 2>&1)
check_match "duplicate flavor name gets 409" "409|already exists" "$out"
out=$(os flavor show no-such-flavor 2>&1)
check_match "unknown flavor: not found" "No Flavor found|could not be found" "$out"
nova "$admin_token" 2.1 GET /flavors/no-such-flavor
check_eq "unknown flavor: 404" 404 "$CODE"
check_match "404 is Nova's itemNotFound" '"itemNotFound": *\{"code": *404' "$(body)"

# ---- private flavors and their access list -------------------------------
check "project create demo" os project create demo
check "project create other" os project create other
check "user create alice (demo)" os user create --password alice-pw --project demo alice
check "user create bob (other)" os user create --password bob-pw --project other bob
check "role add alice member" os role add --project demo --user alice member
check "role add bob member" os role add --project other --user bob member
demo_id=$(os project show demo -f value -c id)
check "flavor create --private" os flavor create --private --ram 64 --disk 1 --id priv-1 priv1
check "flavor set --project demo" os flavor set --project demo priv1
out=$(os flavor show priv1 -f value -c access_project_ids -c os-flavor-access:is_public 2>&1 |
    tr '\n' ' ')
check_match "flavor show: the access list has demo" "$demo_id.*False" "$out"
out=$(os flavor list --private -f value -c Name 2>&1 | tr '\n' ' ')
check_eq "flavor list --private (admin)" "priv1 " "$out"
out=$(os flavor list --all -f value -c Name 2>&1 | wc -l)
check_eq "flavor list --all (admin)" 8 "$out"

use_user alice alice-pw demo
alice_token=$(os token issue -f value -c id)
out=$(os flavor show priv1 -f value -c name 2>&1 | grep -v '^Failed')
check_eq "alice (demo) sees the private flavor" "priv1" "$out"
out=$(os flavor list -f value -c Name 2>&1 | grep -c '^priv1$')
check_eq "alice's flavor list includes it" 1 "$out"
out=$(os flavor create --ram 64 --disk 1 mine 2>&1)
check_match "a member cannot create a flavor (403)" "403" "$out"
out=$(os flavor set --property a=b tiny 2>&1)
check_match "a member cannot set a property" "403|Forbidden|Failed" "$out"
nova "$alice_token" 2.1 GET /flavors/priv-1/os-extra_specs
check_eq "a member reads extra specs" 200 "$CODE"

use_user bob bob-pw other
bob_token=$(os token issue -f value -c id)
out=$(os flavor show priv1 2>&1)
check_match "bob (other) cannot see it" "No Flavor found|could not be found" "$out"
nova "$bob_token" 2.1 GET /flavors/priv-1
check_eq "bob: the private flavor is 404" 404 "$CODE"
out=$(os flavor list -f value -c Name 2>&1 | grep -c '^priv1$')
check_eq "bob's flavor list lacks it" 0 "$out"

use_admin
check "flavor unset --project demo" os flavor unset --project demo priv1
nova "$alice_token" 2.1 GET /flavors/priv-1
check_eq "after unset, alice gets 404" 404 "$CODE"

# ---- raw flavor JSON against Tempest's schemas ---------------------------
nova "$admin_token" 2.1 POST /flavors \
    '{"flavor": {"name": "f2", "ram": 256, "vcpus": 1, "disk": 1, "id": "f-2"}}'
check_schema "2.1 create flavor" v2_1.flavors create_update_get_flavor_details
for mv in 2.1 2.55 2.61 2.75; do
    case $mv in
    2.1) mod=v2_1 ;;
    2.55) mod=v2_55 ;;
    *) mod=v2_61 ;; # Tempest has no v2_75 flavor schema: 2.75 only changes swap
    esac
    nova "$admin_token" $mv GET /flavors
    check_schema "$mv list flavors" $mod.flavors list_flavors
    nova "$admin_token" $mv GET "/flavors/detail?is_public=None"
    check_schema "$mv list flavors detail" $mod.flavors list_flavors_details
    nova "$admin_token" $mv GET /flavors/f-2
    check_schema "$mv show flavor" $mod.flavors create_update_get_flavor_details
done
nova "$admin_token" 2.1 GET /flavors/f-2
check_eq "2.1: swap 0 is \"\"" '""' "$(json_get 'json.dumps(b["flavor"]["swap"])')"
nova "$admin_token" 2.75 GET /flavors/f-2
check_eq "2.75: swap 0 is 0" 0 "$(json_get 'b["flavor"]["swap"]')"
f1_id=$(os flavor show f1 -f value -c id)
nova "$admin_token" 2.61 GET "/flavors/$f1_id"
check_eq "2.61: extra_specs inline" "2" "$(json_get 'b["flavor"]["extra_specs"]["hw:cpu_sockets"]')"
nova "$admin_token" 2.55 PUT /flavors/f-2 '{"flavor": {"description": "updated"}}'
check_schema "2.55 update flavor description" v2_55.flavors create_update_get_flavor_details
nova "$admin_token" 2.54 PUT /flavors/f-2 '{"flavor": {"description": "updated"}}'
check_eq "before 2.55 there is no flavor update (404)" 404 "$CODE"
nova "$admin_token" 2.1 GET "/flavors?limit=2"
check_match "limit=2 gives a next link with the marker" \
    "/compute/v2.1/flavors\?limit=2&marker=" "$(json_get 'b["flavors_links"][0]["href"]')"
marker=$(json_get 'b["flavors"][1]["id"]')
nova "$admin_token" 2.1 GET "/flavors?limit=2&marker=$marker"
check_eq "the next page starts after the marker" 2 "$(json_get 'len(b["flavors"])')"
nova "$admin_token" 2.1 GET "/flavors/detail?sort_key=memory_mb&sort_dir=desc&minRam=1000"
check_eq "sort_key, sort_dir, minRam" "m1.large m1.medium m1.small" \
    "$(json_get '" ".join(f["name"] for f in b["flavors"])')"
nova "$admin_token" 2.75 GET "/flavors?bogus=1"
check_eq "2.75 refuses unknown query parameters" 400 "$CODE"
nova "$admin_token" 2.1 POST /flavors '{"flavor": {"name": "bad", "ram": 0, "vcpus": 1, "disk": 1}}'
check_match "ram 0 gets 400 with Nova's message" \
    "^400 .*ram. Value: 0. 0 is less than the minimum of 1" "$CODE $(body)"
nova "$alice_token" 2.1 POST /flavors '{"flavor": {"name": "x", "ram": 64, "vcpus": 1, "disk": 1}}'
check_eq "a member's flavor create is 403" 403 "$CODE"

nova "$admin_token" 2.1 POST /flavors/priv-1/action "{\"addTenantAccess\": {\"tenant\": \"$demo_id\"}}"
check_schema "add tenant access" v2_1.flavors_access add_remove_list_flavor_access
nova "$admin_token" 2.1 GET /flavors/priv-1/os-flavor-access
check_schema "list flavor access" v2_1.flavors_access add_remove_list_flavor_access
nova "$admin_token" 2.7 POST /flavors/f-2/action "{\"addTenantAccess\": {\"tenant\": \"$demo_id\"}}"
check_eq "2.7: access to a public flavor is 409" 409 "$CODE"
nova "$admin_token" 2.1 POST /flavors/priv-1/action '{"addTenantAccess": {"tenant": "nope"}}'
check_eq "access for an unknown project is 400" 400 "$CODE"
nova "$admin_token" 2.1 POST /flavors/priv-1/action "{\"removeTenantAccess\": {\"tenant\": \"$demo_id\"}}"
check_schema "remove tenant access" v2_1.flavors_access add_remove_list_flavor_access

nova "$admin_token" 2.1 POST /flavors/f-2/os-extra_specs '{"extra_specs": {"hw:numa_nodes": "1", "x": "y"}}'
check_schema "create extra specs" v2_1.flavors_extra_specs set_get_flavor_extra_specs
nova "$admin_token" 2.1 GET /flavors/f-2/os-extra_specs
check_schema "list extra specs" v2_1.flavors_extra_specs set_get_flavor_extra_specs
nova "$admin_token" 2.1 PUT /flavors/f-2/os-extra_specs/x '{"x": "z"}'
check_schema "update an extra spec" v2_1.flavors_extra_specs set_get_flavor_extra_specs_key
nova "$admin_token" 2.1 GET /flavors/f-2/os-extra_specs/x
check_schema "show an extra spec" v2_1.flavors_extra_specs set_get_flavor_extra_specs_key
nova "$admin_token" 2.1 DELETE /flavors/f-2/os-extra_specs/x
check_schema "delete an extra spec" v2_1.flavors_extra_specs unset_flavor_extra_specs
nova "$admin_token" 2.1 GET /flavors/f-2/os-extra_specs/x
check_eq "a deleted extra spec is 404" 404 "$CODE"
nova "$admin_token" 2.86 POST /flavors/f-2/os-extra_specs '{"extra_specs": {"hw:no_such_thing": "1"}}'
check_match "2.86: an unknown hw: key is 400" "^400 .*does not appear to be a valid extra spec" \
    "$CODE $(body)"
nova "$admin_token" 2.86 POST /flavors/f-2/os-extra_specs \
    '{"extra_specs": {"hw:cpu_policy": "dedicated", "resources:VCPU": "1", "trait:HW_CPU_X86_AVX": "required", "mine:x": "1"}}'
check_eq "2.86: known keys and foreign namespaces pass" 200 "$CODE"
nova "$admin_token" 2.85 POST /flavors/f-2/os-extra_specs '{"extra_specs": {"hw:no_such_thing": "1"}}'
check_eq "2.85: no validation of namespaces" 200 "$CODE"
nova "$admin_token" 2.1 POST /flavors/f-2/os-extra_specs '{"extra_specs": {"bad/key": "1"}}'
check_eq "a malformed extra spec key is 400" 400 "$CODE"
nova "$admin_token" 2.1 DELETE /flavors/f-2
check_schema "delete flavor (202)" v2_1.flavors delete_flavor

check "flavor delete" os flavor delete f1
out=$(os flavor list -f value -c Name 2>&1 | grep -c '^f1$')
check_eq "the deleted flavor is gone" 0 "$out"

# ---- keypairs -------------------------------------------------------------
out=$(os keypair create gen1 2>&1)
check_match "keypair create prints a private key" "BEGIN RSA PRIVATE KEY" "$out"
printf '%s\n' "$out" >"$ST_TMP/gen1"
chmod 600 "$ST_TMP/gen1"
pub=$(os keypair show --public-key gen1 2>&1)
derived=$(ssh-keygen -y -f "$ST_TMP/gen1" 2>&1 | cut -d' ' -f1-2)
check_eq "the private key matches the stored public key" "$derived" "$(echo "$pub" | cut -d' ' -f1-2)"

for t in ed25519 rsa ecdsa-256 ecdsa-384 ecdsa-521; do
    case $t in
    ecdsa-*) args=(-t ecdsa -b "${t#ecdsa-}") ;;
    rsa) args=(-t rsa -b 2048) ;;
    *) args=(-t "$t") ;;
    esac
    ssh-keygen -q "${args[@]}" -N '' -C "test $t" -f "$ST_TMP/id_$t" >/dev/null
    want=$(ssh-keygen -l -E md5 -f "$ST_TMP/id_$t.pub" | cut -d' ' -f2 | sed 's/^MD5://')
    check "keypair create --public-key ($t)" os keypair create --public-key "$ST_TMP/id_$t.pub" "imp-$t"
    got=$(os keypair show "imp-$t" -f value -c fingerprint 2>&1)
    check_eq "the $t fingerprint is ssh-keygen -E md5's" "$want" "$got"
done
out=$(os keypair list -f value -c Name 2>&1 | tr '\n' ' ')
check_eq "keypair list" "gen1 imp-ecdsa-256 imp-ecdsa-384 imp-ecdsa-521 imp-ed25519 imp-rsa " "$out"

echo "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx== junk" >"$ST_TMP/bad.pub"
out=$(os keypair create --public-key "$ST_TMP/bad.pub" bad1 2>&1)
check_match "a malformed public key gets 400" "400|invalid" "$out"
sed 's/^ssh-ed25519/ssh-rsa/' "$ST_TMP/id_ed25519.pub" >"$ST_TMP/wrongtype.pub"
out=$(os keypair create --public-key "$ST_TMP/wrongtype.pub" bad2 2>&1)
check_match "a key whose blob has another type gets 400" "400|invalid" "$out"
"$PY" -c '
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
k = rsa.generate_private_key(public_exponent=65537, key_size=512)
print(k.public_key().public_bytes(serialization.Encoding.OpenSSH,
      serialization.PublicFormat.OpenSSH).decode())' >"$ST_TMP/short.pub"
out=$(os keypair create --public-key "$ST_TMP/short.pub" bad3 2>&1)
check_match "a 512-bit RSA key gets 400" "400|invalid" "$out"
out=$(os keypair create --public-key "$ST_TMP/id_rsa.pub" imp-rsa 2>&1)
check_match "a duplicate keypair name gets 409" "409|already exists" "$out"
out=$(os keypair create 'bad!name' 2>&1)
check_match "a name with '!' gets 400" "400|does not match" "$out"
out=$(os keypair list -f value -c Name 2>&1 | grep -c '^bad')
check_eq "no failed keypair was stored" 0 "$out"
check "keypair delete" os keypair delete imp-ed25519
out=$(os keypair show imp-ed25519 2>&1)
check_match "the deleted keypair is gone" "[Nn]o [Kk]eypair|not found|404" "$out"

use_user alice alice-pw demo
alice_id=$(os token issue -f value -c user_id)
out=$(os keypair show gen1 2>&1)
check_match "alice cannot see admin's keypair" "[Nn]o [Kk]eypair|not found|404" "$out"
check "alice imports her own key" os keypair create --public-key "$ST_TMP/id_rsa.pub" alice-key
out=$(os keypair list -f value -c Name 2>&1)
check_eq "alice lists only her keypair" "alice-key" "$out"
use_admin

# ---- raw keypair JSON against Tempest's schemas ---------------------------
edpub=$(cat "$ST_TMP/id_ecdsa-256.pub")
for mv in 2.1 2.2 2.10; do
    mod=v2_2
    [ $mv = 2.1 ] && mod=v2_1
    name="raw-${mv/./-}"
    nova "$admin_token" $mv POST /os-keypairs "{\"keypair\": {\"name\": \"$name\", \"public_key\": \"$edpub\"}}"
    check_schema "$mv import keypair" $mod.keypairs create_keypair
    nova "$admin_token" $mv POST /os-keypairs "{\"keypair\": {\"name\": \"$name-gen\"}}"
    check_schema "$mv generate keypair" $mod.keypairs create_keypair
    nova "$admin_token" $mv GET "/os-keypairs/$name"
    check_schema "$mv show keypair" $mod.keypairs get_keypair
    nova "$admin_token" $mv GET /os-keypairs
    check_schema "$mv list keypairs" $mod.keypairs list_keypairs
    nova "$admin_token" $mv DELETE "/os-keypairs/$name-gen"
    check_schema "$mv delete keypair" $mod.keypairs delete_keypair
done
nova "$admin_token" 2.2 POST /os-keypairs '{"keypair": {"name": "x509-gen", "type": "x509"}}'
check_schema "2.2 generate an x509 keypair" v2_2.keypairs create_keypair
check_match "x509: a certificate and a SHA-1 fingerprint" \
    "BEGIN CERTIFICATE.*([0-9a-f]{2}:){19}[0-9a-f]{2}" \
    "$(json_get 'b["keypair"]["public_key"].replace("\n", " ") + " " + b["keypair"]["fingerprint"]')"
nova "$admin_token" 2.10 GET "/os-keypairs?user_id=$alice_id"
check_eq "2.10: admin lists alice's keypairs" "alice-key" \
    "$(json_get '" ".join(k["keypair"]["name"] for k in b["keypairs"])')"
check_schema "2.10 list another user's keypairs" v2_2.keypairs list_keypairs
nova "$alice_token" 2.10 GET "/os-keypairs?user_id=$(os token issue -f value -c user_id)"
check_eq "2.10: a member may not list another user's keypairs" 403 "$CODE"
nova "$admin_token" 2.35 GET "/os-keypairs?limit=2"
check_match "2.35: limit gives keypairs_links" "os-keypairs\?limit=2&marker=" \
    "$(json_get 'b["keypairs_links"][0]["href"]')"
nova "$admin_token" 2.1 POST /os-keypairs '{"keypair": {"name": "k", "type": "ssh"}}'
check_eq "2.1 has no keypair type (400)" 400 "$CODE"
nova "$admin_token" 2.1 GET /os-keypairs/no-such-key
check_eq "unknown keypair is 404" 404 "$CODE"

stop_stratusd
plan "$ST_N"
done_testing
