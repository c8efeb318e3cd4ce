# plan.awk - turns a flattened network description (the output of yaml.awk or
# json.awk) into a network plan for the stratus test guest, for busybox awk.
#
#   awk -v mode=netplan -f plan.awk   (NoCloud network-config, version 2 or 1)
#   awk -v mode=netdata -f plan.awk   (OpenStack config drive network_data.json)
#
# Plan lines (space separated; every field is validated here, so the shell
# that applies the plan only ever sees plain identifiers and addresses):
#   nic   ID MAC|- NAME|-       an interface, matched by MAC, else by NAME
#   vlan  ID PARENT-ID VID MAC|-
#   mtu   ID N
#   addr  ID A.B.C.D/P
#   route ID A.B.C.D/P GATEWAY
#   dhcp  ID
#   dns   A.B.C.D
#   search DOMAIN
#   note  TEXT                  something that was ignored, for the console
# The input is untrusted data: nothing here executes any part of it.

BEGIN { FS = "\t"; ndev = 0; nnote = 0; version = "" }

{
	path = $1
	val = $2
	if (mode == "netplan") {
		sub(/^network\./, "", path)
		if (path == "version") { version = val; next }
		np = split(path, P, ".")
		if (P[1] == "ethernets" || P[1] == "vlans") v2(P, np, val)
		else if (P[1] == "config") v1(P, np, val)
	} else if (mode == "netdata") {
		np = split(path, P, ".")
		nd(P, np, val)
	}
}

END {
	finish()
	if (mode == "netplan" && version != "" && version != 1 && version != 2)
		note("network-config version " version " is not supported")
	for (d = 1; d <= ndev; d++) out_dev(d)
	for (i = 1; i <= ndns; i++) print "dns " dnsl[i]
	for (i = 1; i <= nsearch; i++) print "search " searchl[i]
	for (i = 1; i <= nnote; i++) print "note " notes[i]
}

# ---------------------------------------------------------------- helpers

function note(t) {
	gsub(/[^A-Za-z0-9_.:\/@=, -]/, "_", t)
	notes[++nnote] = substr(t, 1, 200)
}

function sid(s) {
	gsub(/[^A-Za-z0-9_.:@-]/, "_", s)
	if (s ~ /^-/ || s == "") s = "_" s
	return substr(s, 1, 64)
}

function is_ip4(s,    n, o, i) {
	if (s !~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/) return 0
	n = split(s, o, ".")
	for (i = 1; i <= n; i++) if (length(o[i]) > 3 || o[i] + 0 > 255) return 0
	return 1
}

function is_mac(s) {
	return s ~ /^[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]$/
}

function is_true(s) {
	s = tolower(s)
	return s == "true" || s == "yes" || s == "on" || s == "1" || s == "y"
}

# netmask (dotted) -> prefix length, -1 if not a contiguous mask
function mask2prefix(m,    o, i, n, b, p, seen0, x) {
	if (m ~ /^[0-9]+$/ && m + 0 <= 32) return m + 0
	if (!is_ip4(m)) return -1
	split(m, o, ".")
	p = 0; seen0 = 0
	for (i = 1; i <= 4; i++) {
		x = o[i] + 0
		for (b = 128; b >= 1; b = b / 2) {
			if (x >= b) { if (seen0) return -1; p++; x -= b }
			else seen0 = 1
		}
	}
	return p
}

# "A.B.C.D/P" or ("A.B.C.D", mask) -> "A.B.C.D/P", "" if invalid
function cidr(a, mask,    ip, pl, k) {
	k = index(a, "/")
	if (k) { ip = substr(a, 1, k - 1); pl = substr(a, k + 1) }
	else { ip = a; pl = (mask == "") ? 32 : mask2prefix(mask) }
	if (!is_ip4(ip)) return ""
	if (pl !~ /^[0-9]+$/ || pl + 0 > 32) {
		pl = mask2prefix(pl)
		if (pl < 0) return ""
	}
	return ip "/" (pl + 0)
}

function dev(key, kind,    d) {
	if (key in devidx) return devidx[key]
	d = ++ndev
	devidx[key] = d
	dkind[d] = kind
	did[d] = ""
	return d
}

function add_dns(s) {
	if (!is_ip4(s)) { if (s != "") note("ignored nameserver " s); return }
	if (s in dnsseen) return
	dnsseen[s] = 1
	dnsl[++ndns] = s
}

function add_search(s) {
	if (s !~ /^[A-Za-z0-9][A-Za-z0-9.-]*$/) { note("ignored search domain " s); return }
	searchl[++nsearch] = s
}

function add_addr(d, c) {
	daddr[d, ++naddr[d]] = c
}

function add_route(d, to, via,    c) {
	if (to == "default" || to == "") to = "0.0.0.0/0"
	c = cidr(to, "")
	if (c == "" || !is_ip4(via)) { note("ignored route " to " via " via); return }
	droute[d, ++nroute[d]] = c " " via
}

function set_mac(d, m) {
	m = tolower(m)
	if (is_mac(m)) dmac[d] = m
	else if (m != "") note("ignored MAC address " m)
}

function out_dev(d,    id, i, r, mac) {
	id = did[d]
	if (id == "") return
	mac = (dmac[d] == "") ? "-" : dmac[d]
	if (dkind[d] == "vlan") {
		if (dlink[d] == "" || dvid[d] !~ /^[0-9]+$/ || dvid[d] + 0 < 1 || dvid[d] + 0 > 4094) {
			note("ignored vlan " id); return
		}
		print "vlan " id " " dlink[d] " " (dvid[d] + 0) " " mac
	} else if (dkind[d] == "nic") {
		# netplan: an entry without "match" names the interface itself
		if (dv2[d] && mac == "-" && dname[d] == "") dname[d] = id
		print "nic " id " " mac " " ((dname[d] == "") ? "-" : dname[d])
	} else return
	if (dmtu[d] ~ /^[0-9]+$/ && dmtu[d] + 0 >= 68 && dmtu[d] + 0 <= 65535) print "mtu " id " " (dmtu[d] + 0)
	for (i = 1; i <= naddr[d]; i++) print "addr " id " " daddr[d, i]
	# netplan: gateway4 / v1 subnet gateway
	if (dgw[d] != "") {
		for (i = 1; i <= nroute[d]; i++) if (droute[d, i] ~ /^0\.0\.0\.0\/0 /) break
		if (i > nroute[d]) add_route(d, "0.0.0.0/0", dgw[d])
	}
	for (i = 1; i <= nroute[d]; i++) print "route " id " " droute[d, i]
	if (ddhcp[d]) print "dhcp " id
}

# ---------------------------------------------- netplan / network-config v2

function v2(P, np, val,    d, f, kind, a) {
	if (np < 3) return
	kind = (P[1] == "vlans") ? "vlan" : "nic"
	d = dev(P[1] "/" P[2], kind)
	did[d] = sid(P[2])
	dv2[d] = 1
	f = P[3]
	if (f == "match" && P[4] == "macaddress") set_mac(d, val)
	else if (f == "match" && P[4] == "name") dname[d] = sid(val)
	else if (f == "macaddress") set_mac(d, val)
	else if (f == "addresses" && np == 4) {
		a = cidr(val, "")
		if (a != "") add_addr(d, a)
		else note("ignored address " val)
	} else if (f == "gateway4") {
		if (is_ip4(val)) dgw[d] = val
		else note("ignored gateway4 " val)
	} else if (f == "routes" && np == 5) {
		if (P[5] == "to") rto[d, P[4]] = val
		else if (P[5] == "via") {
			rvia[d, P[4]] = val
		}
		if (((d, P[4]) in rto) && ((d, P[4]) in rvia) && !((d, P[4]) in rdone)) {
			rdone[d, P[4]] = 1
			add_route(d, rto[d, P[4]], rvia[d, P[4]])
		}
	} else if (f == "nameservers" && P[4] == "addresses") add_dns(val)
	else if (f == "nameservers" && P[4] == "search") add_search(val)
	else if (f == "dhcp4") ddhcp[d] = is_true(val)
	else if (f == "mtu") dmtu[d] = val
	else if (f == "id" && kind == "vlan") dvid[d] = val
	else if (f == "link" && kind == "vlan") dlink[d] = sid(val)
	else if (f == "dhcp6" && is_true(val)) note(P[2] ": dhcp6 is not supported")
}

# --------------------------------------------------- network-config v1

function v1(P, np, val,    d, f, s) {
	if (np < 3) return
	d = dev("config/" P[2], "")
	f = P[3]
	if (f == "type") {
		if (val == "physical") dkind[d] = "nic"
		else if (val == "vlan") dkind[d] = "vlan"
		else if (val == "nameserver") dkind[d] = "ns"
		else note("network-config v1 type " val " is not supported")
	} else if (f == "name") { did[d] = sid(val); dname[d] = sid(val) }
	else if (f == "mac_address") set_mac(d, val)
	else if (f == "mtu") dmtu[d] = val
	else if (f == "vlan_id") dvid[d] = val
	else if (f == "vlan_link") dlink[d] = sid(val)
	else if (f == "address" && np == 4) add_dns(val)       # type: nameserver
	else if (f == "search" && np == 4) add_search(val)
	else if (f == "subnets" && np >= 5) {
		s = P[4]
		f = P[5]
		if (f == "type") {
			if (val == "dhcp" || val == "dhcp4") ddhcp[d] = 1
			else if (val == "static" || val == "static4") sstatic[d, s] = 1
			else note("subnet type " val " is not supported")
		} else if (f == "address") {
			saddr[d, s] = val
			if (!((d, s) in v1seen)) { v1seen[d, s] = 1; v1order[++nv1] = d SUBSEP s }
		}
		else if (f == "netmask") smask[d, s] = val
		else if (f == "gateway") { if (is_ip4(val)) dgw[d] = val }
		else if (f == "dns_nameservers") add_dns(val)
		else if (f == "dns_search") add_search(val)
		else if (f == "routes" && np == 7) {
			if (P[7] == "network") v1rnet[d, s, P[6]] = val
			else if (P[7] == "netmask") v1rmask[d, s, P[6]] = val
			else if (P[7] == "gateway") v1rgw[d, s, P[6]] = val
			if (((d, s, P[6]) in v1rnet) && ((d, s, P[6]) in v1rgw) && !((d, s, P[6]) in v1rdone)) {
				v1rdone[d, s, P[6]] = 1
				# the netmask, if any, comes before the gateway in practice
				add_route(d, cidr(v1rnet[d, s, P[6]], v1rmask[d, s, P[6]]), v1rgw[d, s, P[6]])
			}
		}
	}
}

# ------------------------------------------- OpenStack network_data.json

function nd(P, np, val,    d, f, j) {
	if (P[1] == "links" && np >= 3) {
		d = dev("link/" P[2], "nic")
		f = P[3]
		if (f == "id") { did[d] = sid(val); linkdev[sid(val)] = d }
		else if (f == "type") {
			if (val == "vlan") dkind[d] = "vlan"
			else if (val == "bond") { dkind[d] = "bond"; note("bond links are not supported") }
		}
		else if (f == "ethernet_mac_address") set_mac(d, val)
		else if (f == "vlan_mac_address") set_mac(d, val)
		else if (f == "mtu") dmtu[d] = val
		else if (f == "vlan_id") dvid[d] = val
		else if (f == "vlan_link") dlink[d] = sid(val)
	} else if (P[1] == "networks" && np >= 3) {
		j = P[2]
		f = P[3]
		if (np == 3) ndn[j, f] = val
		else if (f == "routes" && np == 5) ndr[j, P[4], P[5]] = val
		else if (f == "services" && np == 5) ndsvc[j, P[4], P[5]] = val
		if (!(j in ndseen)) { ndseen[j] = 1; ndorder[++nnd] = j }
		if (f == "routes" && np == 5 && !((j, P[4]) in ndrseen)) { ndrseen[j, P[4]] = 1; ndrorder[j, ++ndrn[j]] = P[4] }
		if (f == "services" && np == 5 && !((j, P[4]) in ndsseen)) { ndsseen[j, P[4]] = 1; ndsorder[j, ++ndsn[j]] = P[4] }
	} else if (P[1] == "services" && np == 3) {
		svc[P[2], P[3]] = val
		if (!(P[2] in svcseen)) { svcseen[P[2]] = 1; svcorder[++nsvc] = P[2] }
	}
}

# resolve what needs the whole input: called before END output
function finish(    i, j, k, r, d, t, c, s) {
	if (mode == "netdata") {
		for (i = 1; i <= nnd; i++) {
			j = ndorder[i]
			t = ndn[j, "type"]
			if (!((sid(ndn[j, "link"])) in linkdev)) { note("network " ndn[j, "id"] " has no link"); continue }
			d = linkdev[sid(ndn[j, "link"])]
			if (t == "ipv4") {
				c = cidr(ndn[j, "ip_address"], ndn[j, "netmask"])
				if (c != "") add_addr(d, c)
				else note("ignored address " ndn[j, "ip_address"])
				for (k = 1; k <= ndrn[j]; k++) {
					r = ndrorder[j, k]
					add_route(d, cidr(ndr[j, r, "network"], ndr[j, r, "netmask"]), ndr[j, r, "gateway"])
				}
				if (is_ip4(ndn[j, "gateway"])) dgw[d] = ndn[j, "gateway"]
			} else if (t == "ipv4_dhcp" || t == "dhcp4" || t == "dhcp") ddhcp[d] = 1
			else note("network " ndn[j, "id"] " type " t " is not supported")
			for (k = 1; k <= ndsn[j]; k++) {
				s = ndsorder[j, k]
				if (ndsvc[j, s, "type"] == "dns") add_dns(ndsvc[j, s, "address"])
			}
		}
		for (i = 1; i <= nsvc; i++) if (svc[svcorder[i], "type"] == "dns") add_dns(svc[svcorder[i], "address"])
	}
	if (mode == "netplan") {
		for (i = 1; i <= nv1; i++) {
			split(v1order[i], t, SUBSEP)
			d = t[1]; s = t[2]
			if (!((d, s) in sstatic)) continue
			c = cidr(saddr[d, s], smask[d, s])
			if (c != "") add_addr(d, c)
			else note("ignored address " saddr[d, s])
		}
	}
}
