#!/bin/bash
# t013 - remote consoles (issue 10, item 1): `openstack console url show
# --novnc/--serial` print URLs under stratusd's own listener; headless
# Chromium opens the noVNC one and shows the guest's screen; a
# python3-websockets client types into the guest's shell on the serial
# console; one-time, expiring, server-bound tokens; clear refusals.
. "$(dirname "$0")/lib.sh"
plan 45

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
for p in /usr/bin/chromium /usr/share/novnc/vnc_lite.html; do
    [ -e "$p" ] || { echo "1..0 # SKIP $p missing (scripts/install-deps)"; exit 0; }
done
PY=/usr/bin/python3
CC=$ST_TOP/tests/integration/console_client.py
SHOT=$ST_TOP/tests/integration/browser_shot.py
TTL=25
cat >"$ST_TMP/stratusd.conf" <<EOF
[console]
token_ttl = $TTL
EOF
start_stratusd --config "$ST_TMP/stratusd.conf" || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"
check "libvirtd runs" start_libvirt
if start_agent; then ok "the agent registers"; else not_ok "the agent registers"; fi
check "upload the test guest images" upload_guest

# The test guest boots its kernel through the PVH entry (vmlinux), which
# leaves the VGA screen to SeaBIOS.  vm1 boots the bzImage with console=tty0
# too, so its screen shows the shell prompt busybox init puts on tty1.
vgak() {
    os image create --public --disk-format aki --container-format aki \
        --file "$ST_GUEST/vmlinuz" testguest-vga-kernel -f value -c id
}
vga_image() {
    local k r
    k=$(vgak) && r=$(os image show testguest -f json | jq -r .properties.ramdisk_id) &&
        os image create --public --disk-format qcow2 --container-format bare \
            --file "$ST_GUEST/disk.qcow2" --property kernel_id="$k" --property ramdisk_id="$r" \
            --property os_command_line="console=tty0 console=ttyS0 root=/dev/vda" \
            --min-disk 1 testguest-vga >/dev/null
}
check "upload a test guest image that draws on VGA" vga_image
check "server create vm1" os "${NOVA[@]}" server create --image testguest-vga --flavor tiny \
    --nic none --wait vm1
log=$(wait_console vm1 'stratus-guest: ready')
check_match "console log show still shows the guest's output" 'stratus-guest: ready' "$log"
id1=$(os server show vm1 -f value -c id)
xml=$(virsh -q -c qemu:///system dumpxml "instance-$id1")
check_match "VNC listens nowhere (the agent gets it from libvirt)" "<listen type='none'/>" "$xml"
check_match "the serial console is the instance's UNIX socket" \
    "<source mode='bind' path='$ST_TMP/instances/$id1/console.sock'" "$xml"
if printf '%s' "$xml" | grep -q "<graphics[^>]*port="; then
    not_ok "no VNC TCP port"
else
    ok "no VNC TCP port"
fi

# -- noVNC in a real browser ---------------------------------------------
url=$(os "${NOVA[@]}" console url show --novnc vm1 -f value -c url)
diag "novnc url: $url"
check_match "the noVNC URL is under stratusd's URL, with a token" \
    "^$ST_URL/console/novnc/vnc_lite.html\?path=console/ws%3Ftoken%3D[A-Za-z0-9_-]{43}$" "$url"
code=$(curl -s -o "$ST_TMP/page" -w '%{http_code} %{content_type}' "$url")
check_match "the page is served (noVNC from Debian)" "^200 text/html" "$code"
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$ST_URL/console/novnc/core/rfb.js")
check_match "its modules are served as JavaScript" "^200 text/javascript" "$code"
code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$ST_URL/console/novnc/../../../etc/passwd")
check_eq "no path traversal out of the noVNC directory" 404 "$code"
shot=$($PY "$SHOT" "$url" "$ST_TMP/vnc.png" 30 2>&1)
diag "$shot"
check_match "noVNC connects to the guest's VNC server" "status: Connected.*instance-$id1" "$shot"
lit=$(printf '%s\n' "$shot" | sed -n 's/.*lit=\([0-9]*\).*/\1/p')
check "the console canvas shows the guest's screen (not blank)" test "${lit:-0}" -gt 500
shot2=$($PY "$SHOT" "$url" "$ST_TMP/vnc-again.png" 15 2>&1)
diag "$shot2"
check_match "a second use of the same URL fails" "status: (Disconnected|Failed|Something)" "$shot2"
if cmp -s "$ST_TMP/vnc.png" "$ST_TMP/vnc-again.png"; then
    not_ok "the refused screenshot differs from the console's"
else
    ok "the refused screenshot differs from the console's"
fi
c1=$(printf '%s\n' "$shot" | sed -n 's/^shot: //p')
c2=$(printf '%s\n' "$shot2" | sed -n 's/^shot: //p')
diag "distinct colours: console $c1, refused $c2"

# -- serial console over WebSocket ---------------------------------------
surl=$(os "${NOVA[@]}" console url show --serial vm1 -f value -c url)
diag "serial url: $surl"
check_match "the serial URL is a ws:// URL under stratusd" \
    "^ws://127.0.0.1:$ST_PORT/console/serial\?token=[A-Za-z0-9_-]{43}$" "$surl"
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$ST_URL/console/serial.html?token=${surl##*token=}")
check_match "a serial console page for browsers is served" "^200 text/html" "$code"
out=$($PY "$CC" serial "$surl" 'echo sum=$((6*7)); hostname' 'sum=42.*\s+vm1' 2>&1)
check_match "a command typed on the serial console runs in the guest's shell" 'sum=42' "$out"
check_match "and it is vm1's shell" 'vm1' "$out"
out=$($PY "$CC" status "$surl" 2>&1)
check_eq "the serial token is one-time too (401 before the upgrade)" "rejected 401" "$out"
log=$(os console log show vm1)
check_match "what the serial console showed is in the console log too" 'sum=42' "$log"

# -- tokens: kind, server, expiry, revocation ----------------------------
surl=$(os "${NOVA[@]}" console url show --serial vm1 -f value -c url)
tok=${surl##*token=}
out=$($PY "$CC" status "ws://127.0.0.1:$ST_PORT/console/ws?token=$tok" 2>&1)
check_eq "a serial token does not open the VNC console" "rejected 401" "$out"
# Another first character: the last one of 32 bytes in base64 carries 4 bits
# only, and was 'A' already one time in 16 (the "made-up" token was the real one).
if [ "${tok:0:1}" = A ]; then bad=B${tok:1}; else bad=A${tok:1}; fi
out=$($PY "$CC" status "ws://127.0.0.1:$ST_PORT/console/serial?token=$bad" 2>&1)
check_eq "a made-up token is refused" "rejected 401" "$out"

check "server create vm2" os "${NOVA[@]}" server create --image testguest --flavor tiny \
    --nic none --wait vm2
wait_console vm2 'stratus-guest: ready' >/dev/null
url2=$(os "${NOVA[@]}" console url show --serial vm2 -f value -c url)
out=$($PY "$CC" serial "$url2" 'hostname' 'vm2' 2>&1)
check_match "vm2's token opens vm2's console, not vm1's" 'vm2' "$out"
url2=$(os "${NOVA[@]}" console url show --serial vm2 -f value -c url)
check "server delete --wait vm2" os server delete --wait vm2
out=$($PY "$CC" status "$url2" 2>&1)
check_eq "the token of a deleted server is refused" "rejected 401" "$out"

old=$(os "${NOVA[@]}" console url show --serial vm1 -f value -c url)
vurl=$(os "${NOVA[@]}" console url show --novnc vm1 -f value -c url)
vtok=${vurl##*%3D}
sleep $((TTL + 1))
out=$($PY "$CC" status "$old" 2>&1)
check_eq "an expired token is refused ([console] token_ttl = $TTL)" "rejected 401" "$out"
shot3=$($PY "$SHOT" "$vurl" "$ST_TMP/vnc-expired.png" 15 2>&1)
check_match "an expired noVNC URL does not connect in the browser" \
    "status: (Disconnected|Failed|Something)" "$shot3"

vurl=$(os "${NOVA[@]}" console url show --novnc vm1 -f value -c url)
vtok=${vurl##*%3D}
out=$($PY "$CC" rfb "ws://127.0.0.1:$ST_PORT/console/ws?token=$vtok" base64 2>&1)
check_match "websockify's base64 subprotocol carries RFB too" '^RFB 003\.008' "$out"

surl=$(os "${NOVA[@]}" console url show --serial vm1 -f value -c url)
check "server stop vm1" os server stop vm1
wait_status vm1 SHUTOFF 60 >/dev/null
out=$($PY "$CC" status "$surl" 2>&1)
check_eq "a console of a server that is not running closes with a clear reason" \
    "closed 1008 server is not running" "$out"
out=$(os "${NOVA[@]}" console url show --novnc vm1 2>&1)
check_match "no console URL for a stopped server (409)" "409|not ready" "$out"

# -- old actions and errors ----------------------------------------------
check "server start vm1" os server start vm1
wait_status vm1 ACTIVE 60 >/dev/null
ST_TOKEN=$(os token issue -f value -c id)
out=$(http POST "/compute/v2.1/servers/$id1/action" -d '{"os-getVNCConsole": {"type": "novnc"}}')
check_match "os-getVNCConsole gives a noVNC URL" '^200 .*"type": *"novnc".*vnc_lite.html' "$out"
out=$(http POST "/compute/v2.1/servers/$id1/action" -d '{"os-getSerialConsole": {"type": "serial"}}')
check_match "os-getSerialConsole gives a ws:// URL" '^200 .*"url": *"ws://' "$out"
out=$(http POST "/compute/v2.1/servers/$id1/remote-consoles" \
    -H 'OpenStack-API-Version: compute 2.6' \
    -d '{"remote_console": {"protocol": "spice", "type": "spice-html5"}}')
check_match "spice is refused: domains have none (400)" '^400 ' "$out"
out=$(http POST "/compute/v2.1/servers/$id1/remote-consoles" \
    -d '{"remote_console": {"protocol": "vnc", "type": "novnc"}}')
check_match "remote-consoles needs 2.6 (404 before)" '^404 ' "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$ST_URL/console/ws?token=x")
check_eq "a plain GET of the proxy is refused (400)" 400 "$code"

check "server delete --wait vm1" os server delete --wait vm1
kill_agent
stop_stratusd
if [ "$ST_FAILED" -ne 0 ]; then
    grep -h "console\|error" "$ST_TMP/stratusd.log" "$ST_TMP/agent.log" | tail -n 40 | sed 's/^/# log: /'
fi
done_testing
