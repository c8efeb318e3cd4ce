# meta.awk - picks instance id, hostname and SSH keys out of flattened seed
# meta-data (the output of json.awk or yaml.awk), for busybox awk.
#
#   awk -v keys=FILE -f meta.awk meta.flat
#
# Prints (every value already reduced to a safe character set):
#   iid <instance id: uuid / instance-id>
#   host <hostname: hostname / name / local-hostname, first label only>
#   sshkey <comment of the first public key, or its type>
# and writes the public keys (printable ASCII only) to FILE, one per line.
# The input is untrusted data: nothing here executes any part of it.

BEGIN { FS = "\t"; nkeys = 0 }

{ v[$1] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }

END {
	iid = first("uuid instance-id instance_id")
	host = first("hostname local-hostname local_hostname name")

	gsub(/[^A-Za-z0-9._:-]/, "", iid)
	iid = substr(iid, 1, 128)

	# like cloud-init's local hostname: the first label only
	sub(/\..*/, "", host)
	gsub(/[^A-Za-z0-9-]/, "", host)
	host = substr(host, 1, 63)
	sub(/^-+/, "", host)
	sub(/-+$/, "", host)

	# public_keys (config drive map, NoCloud list/map/scalar), else the
	# config drive's "keys" list
	for (i = 1; i <= n; i++) if (order[i] ~ /^public[-_]keys(\.|$)/) addkey(v[order[i]])
	if (nkeys == 0)
		for (i = 1; i <= n; i++) if (order[i] ~ /^keys\.[0-9]+\.data$/) addkey(v[order[i]])

	sshkey = ""
	if (nkeys > 0) {
		nf = split(key[1], f, " ")
		sshkey = (nf >= 3) ? f[3] : f[1]
		gsub(/[^A-Za-z0-9@._+:=-]/, "", sshkey)
		sshkey = substr(sshkey, 1, 100)
	}
	for (i = 1; i <= nkeys; i++) print key[i] > keys
	print "iid " iid
	print "host " host
	print "sshkey " sshkey
}

function first(names,    k, m, i) {
	m = split(names, k, " ")
	for (i = 1; i <= m; i++) if ((k[i] in v) && v[k[i]] != "") return v[k[i]]
	return ""
}

function addkey(s) {
	gsub(/[^ -~]/, "", s)
	sub(/^ +/, "", s)
	sub(/ +$/, "", s)
	if (s == "" || (s in havekey)) return
	havekey[s] = 1
	key[++nkeys] = s
}
