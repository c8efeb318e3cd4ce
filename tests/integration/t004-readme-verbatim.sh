#!/bin/bash
# t004 - what a newcomer types: every README block marked "t004 runs this
# block as written" and the commands `scripts/aio start` suggests
# (`scripts/aio hints`), run line by line as printed with the stock
# openstack CLI, against a cloud of this test's own.  Only the data dir
# and the VXLAN range differ: /var/lib/stratus becomes this test's, and its
# networks take VNIs of their own (3701:3710), so that the README's net1
# here never meets the all-in-one cloud's net1 (VNI 1001) on this machine.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
W=$ST_TMP/work
mkdir -p "$W"

# blocks FILE: the marked ```sh blocks of FILE, one command per line
# (continuation lines joined).
blocks() {
    awk '/<!-- t004 runs this block as written -->/ {want = 1; next}
         want && /^```sh/ {inside = 1; next}
         inside && /^```/ {inside = 0; want = 0; next}
         inside {print}' "$1" | sed -e ':a' -e '/\\$/N; s/\\\n *//; ta'
}
blocks "$ST_TOP/README.md" >"$W/readme"
bash "$ST_TOP/scripts/aio" hints | sed -n 's/^Try: *//p; s/^      //p' >"$W/hints"
nreadme=$(grep -c . "$W/readme")
nhints=$(grep -c . "$W/hints")
plan $((12 + nreadme + nhints))
check_match "the README has marked blocks with openstack commands" "openstack server create" \
    "$(cat "$W/readme")"
check_match "aio hints prints commands" "openstack server create" "$(cat "$W/hints")"
# aio polls, bootstraps and points the agent at the API's [DEFAULT] listen,
# never at [metrics] listen written after it (a fresh aio start once waited
# on the metrics port and gave up).
printf '[DEFAULT]\nlisten = 127.0.0.1:5999\n[metrics]\nlisten = 127.0.0.1:9360\n' >"$W/aio.conf"
check_eq "aio url is the API's listen, not the metrics one" "http://127.0.0.1:5999" \
    "$(AIO_CONF=$W/aio.conf bash "$ST_TOP/scripts/aio" url)"

printf '[network]\nvni_ranges = 3701:3710\n' >"$W/stratusd.conf"
start_stratusd --config "$W/stratusd.conf" || { not_ok "stratusd starts"; done_testing; }
start_libvirt || { not_ok "libvirtd"; done_testing; }
if start_agent; then ok "the agent registers"; else not_ok "the agent registers"; fi
check "upload the test guest images (as aio does)" upload_guest

# run FILE WHAT: FILE's lines as one script in a fresh login-like shell
# (no OS_* variables: ". openrc" on one line holds for those after it, as
# in a terminal), one check per line, its own output shown when it fails.
run() {
    local line n=0 rc
    : >"$W/script"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        n=$((n + 1))
        printf '%s\necho "__t004 %d $?"\n' "${line//\/var\/lib\/stratus/$ST_DATA}" "$n" >>"$W/script"
    done <"$1"
    (cd "$W" && env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$W" LANG=C.UTF-8 \
        bash "$W/script" >"$W/out" 2>&1)
    n=0
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        n=$((n + 1))
        rc=$(sed -n "s/^__t004 $n //p" "$W/out")
        if [ "$rc" = 0 ]; then
            ok "$2: $line"
        else
            not_ok "$2: $line (exit ${rc:-none})"
            awk -v n="$n" '$1 == "__t004" && $2 == n - 1 {on = 1; next} $1 == "__t004" {on = 0} on' \
                "$W/out" | tail -n 15 | sed 's/^/#   /'
        fi
    done <"$1"
}
run "$W/readme" README
log=$(wait_console vm1 'stratus-guest: ready')
check_match "vm1, from the README, boots (its console says so)" 'stratus-guest: hostname=vm1 ' "$log"
out=$(os server show vm2 -f value -c addresses 2>&1)
check_match "vm2 has an address on net1" 'net1.*10\.0\.0\.' "$out"
# What a newcomer looks at: the guest's own word that DHCP gave it that
# address (a network the agent could not build still has one in the API).
ip2=$(echo "$out" | grep -oE '10\.0\.0\.[0-9]+' | head -n 1)
log=$(wait_console vm2 'stratus-guest: ready')
check_match "vm2 got its address by DHCP (its console says so)" "hostname=vm2 .*ip=${ip2:-none}/24" "$log"
check_match "keypair create wrote the private key" 'BEGIN .*PRIVATE KEY' "$(head -n 1 "$W/vm-key.pem" 2>&1)"
check_eq "vm2 has the key" vm-key "$(os server show vm2 -f value -c key_name 2>&1)"

# The hints again, on a fresh cloud state: vm1 exists already, so delete it.
os server delete --wait vm1 >/dev/null 2>&1
run "$W/hints" "aio hints"
os server delete --wait vm1 vm2 >/dev/null 2>&1
os network delete net1 >/dev/null 2>&1
left=$(virsh -q -c qemu:///system list --all --name | grep -c "^instance-" || true)
diag "domains on this machine after the test: $left"
stop_stratusd
done_testing
