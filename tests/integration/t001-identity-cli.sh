#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t001 - Keystone v3 through Debian's openstack CLI: tokens, the catalog,
# projects, users, roles and assignments; a member's limits; 401 for a wrong
# password and a revoked token.
. "$(dirname "$0")/lib.sh"
plan 29

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"

out=$(os token issue -f value -c id -c project_id 2>&1)
check_match "admin: token issue" '^[A-Za-z0-9_-]{100,}' "$out"

out=$(os catalog list -f value -c Type 2>&1 | sort | tr '\n' ' ')
check_eq "catalog list shows the five services" \
    "block-storage compute identity image network " "$out"

out=$(os catalog show compute -f json 2>&1)
check_match "compute endpoint is /compute/v2.1" "127.0.0.1:$ST_PORT/compute/v2.1" "$out"

check "project create demo" os project create --description "demo project" demo
check "project create other" os project create other
out=$(os project list -f value -c Name 2>&1 | sort | tr '\n' ' ')
check_eq "project list" "admin demo other " "$out"
out=$(os project show demo -f value -c description 2>&1)
check_eq "project show" "demo project" "$out"
other_id=$(os project show other -f value -c id)

check "user create --password" os user create --password alice-pw --project demo alice
check "role add --project --user" os role add --project demo --user alice member
out=$(os role assignment list --user alice --project demo --names -f value -c Role 2>&1)
check_eq "role assignment list shows alice's member role" "member" "$out"
out=$(os role assignment list --names -f value -c Role 2>&1 | sort | tr '\n' ' ')
check_eq "role assignment list (all)" "admin member " "$out"

# As the member.
use_user alice alice-pw demo
out=$(os token issue -f value -c user_id 2>&1)
alice_id=$out
check_match "member: token issue" '^[0-9a-f]{32}$' "$out"
out=$(os user list 2>&1)
check_match "member: user list is refused with 403" 'HTTP 403' "$out"
out=$(os project show "$other_id" 2>&1)
check_match "member: another project is invisible (404)" 'No project with a name or ID' "$out"
out=$(os project list -f value -c Name 2>&1)
check_eq "member: project list shows only its own project" "demo" "$out"
out=$(os user show "$alice_id" -f value -c name 2>&1)
check_eq "member: can read itself" "alice" "$out"

out=$(OS_PASSWORD=wrong os token issue 2>&1)
check_match "wrong password gets 401" 'HTTP 401' "$out"

tok=$(os token issue -f value -c id)
check "member: token revoke (own token)" os token revoke "$tok"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $tok" "$ST_URL/identity/v3/auth/catalog")
check_eq "revoked token gets 401" 401 "$code"
hdr=$(curl -s -D - -o /dev/null -H "X-Auth-Token: $tok" "$ST_URL/identity/v3/auth/catalog")
check_match "401 carries WWW-Authenticate: Keystone uri" \
    "WWW-Authenticate: Keystone uri=\"$ST_URL/identity\"" "$hdr"

# Password change revokes the user's tokens.
tok=$(os token issue -f value -c id)
check "member: user password set" os user password set --original-password alice-pw \
    --password alice-pw2
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $tok" "$ST_URL/identity/v3/auth/catalog")
check_eq "tokens from before a password change get 401" 401 "$code"
out=$(OS_PASSWORD=alice-pw2 os token issue -f value -c user_id 2>&1)
check_eq "the new password works" "$alice_id" "$out"

use_admin
check "project delete" os project delete other
out=$(os project list -f value -c Name 2>&1 | sort | tr '\n' ' ')
check_eq "project list after delete" "admin demo " "$out"

# A host's long-poll (up to 60 s) must not hold up a stop: SIGTERM answers it.
"$ST_BUILD/stratus-manage" "${ST_CONF[@]}" --data-dir "$ST_DATA" host add lp-host >/dev/null
hauth=(-H "Authorization: Bearer $(cat "$ST_DATA/hosts/lp-host.secret")")
rev=$(curl -s "${hauth[@]}" -H 'Content-Type: application/json' -d '{"hypervisor_type":
    "QEMU", "hypervisor_hostname": "lp-host", "virt_type": "qemu", "host_ip": "192.0.2.9",
    "vcpus": 1, "memory_mb": 1024, "local_gb": 1, "agent_version": "t001"}' \
    "$ST_URL/internal/v1/hosts/lp-host" | jq .revision)
curl -s -o /dev/null "${hauth[@]}" \
    "$ST_URL/internal/v1/hosts/lp-host/desired?after=$rev&timeout=60" &
lp=$!
sleep 1
kill -TERM "$ST_PID"
for _ in $(seq 100); do
    kill -0 "$ST_PID" 2>/dev/null || break
    sleep 0.1
done
check_fail "stratusd stops within 10 s of SIGTERM with a long-poll open" kill -0 "$ST_PID"
wait "$lp" # its connection is closed; an agent polls again
stop_stratusd
done_testing
