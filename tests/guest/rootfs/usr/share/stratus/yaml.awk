# yaml.awk - flattener for the small YAML subset that cloud-init seeds use
# (NoCloud meta-data and network-config version 1/2), for busybox awk.
#
# Prints one line per scalar:   <path> TAB <value>
# with mapping keys and sequence indexes joined by dots, e.g.
#   ethernets.nic0.match.macaddress	fa:16:3e:12:34:56
#   ethernets.nic0.addresses.0	10.0.0.5/24
#   ethernets.nic0.routes.0.via	10.0.0.1
# Supported: block mappings and sequences with any indentation (a sequence may
# sit at the same indentation as its key), "- key: value" items, single and
# double quoted scalars, comments, flow sequences/mappings of scalars
# ([a, b] and {k: v}), and block scalars (| and >, folded into one line).
# Not supported (ignored): anchors/aliases, tags, multi-document streams.
# Keys have dots and blanks replaced with "_"; control characters in values
# become spaces. The input is untrusted data: nothing here executes any part
# of it.

BEGIN { depth = 0; blk = 0 }

{
	line = $0
	sub(/\r$/, "", line)
	gsub(/\t/, "  ", line)

	# inside a block scalar: collect more-indented (or empty) lines
	if (blk) {
		if (line ~ /^ *$/) next
		match(line, /^ */)
		if (RLENGTH > blkind) {
			t = substr(line, RLENGTH + 1)
			blkval = (blkval == "") ? t : blkval " " t
			next
		}
		emit(blkpath, blkval)
		blk = 0
	}

	if (line ~ /^ *(#.*)?$/) next
	if (line ~ /^(---|\.\.\.)( .*)?$/) next
	match(line, /^ */)
	ind = RLENGTH
	content = substr(line, ind + 1)
	handle(ind, content)
}

END { if (blk) emit(blkpath, blkval) }

function emit(path, v) {
	gsub(/[\001-\037\177]/, " ", v)
	print path "\t" v
}

function curpath(    i, p) {
	p = ""
	for (i = 1; i <= depth; i++) p = (p == "") ? key[i] : p "." key[i]
	return p
}

function join(p, k) { return (p == "") ? k : p "." k }

# handle one logical line (a key line, a sequence item or a bare scalar)
function handle(ind, content,    rest, sub_ind, p, k, v, idx) {
	if (content ~ /^-( |$)/) {
		# sequence item: drop deeper levels and a previous item at this indent
		while (depth > 0 && (lind[depth] > ind || (lind[depth] == ind && isseq[depth]))) depth--
		p = curpath()
		idx = seqcnt[p] + 0
		seqcnt[p] = idx + 1
		depth++
		lind[depth] = ind
		key[depth] = idx
		isseq[depth] = 1
		rest = substr(content, 2)
		match(rest, /^ */)
		sub_ind = ind + 1 + RLENGTH
		rest = substr(rest, RLENGTH + 1)
		if (rest == "" || rest ~ /^#/) return
		if (iskey(rest)) { handle(sub_ind, rest); return }
		scalar(join(p, idx), rest, ind)
		depth--
		return
	}
	if (iskey(content)) {
		while (depth > 0 && lind[depth] >= ind) depth--
		k = keyname
		v = keyrest
		gsub(/[. ]/, "_", k)
		p = join(curpath(), k)
		if (v == "" || v ~ /^#/) {
			# value follows on the next lines (mapping or sequence)
			depth++
			lind[depth] = ind
			key[depth] = k
			isseq[depth] = 0
			return
		}
		scalar(p, v, ind)
		return
	}
	# a bare scalar continuing something: ignore
}

# Is s a "key: value" / "key:" line? Sets keyname and keyrest.
function iskey(s,    q, e) {
	q = substr(s, 1, 1)
	if (q == "\"" || q == "'") {
		e = index(substr(s, 2), q)
		if (e == 0) return 0
		keyname = substr(s, 2, e - 1)
		s = substr(s, e + 2)
		if (s !~ /^ *:( |$)/) return 0
		sub(/^ *:/, "", s)
		sub(/^ */, "", s)
		keyrest = s
		return 1
	}
	if (substr(s, 1, 1) == "[" || substr(s, 1, 1) == "{") return 0
	if (!match(s, /:( |$)/)) return 0
	keyname = substr(s, 1, RSTART - 1)
	sub(/ *$/, "", keyname)
	if (keyname == "") return 0
	keyrest = substr(s, RSTART + 1)
	sub(/^ */, "", keyrest)
	return 1
}

# emit a scalar (or flow collection, or start a block scalar) at path p
function scalar(p, v, ind,    inner, n, parts, i, item, k, iv) {
	if (v ~ /^[|>][-+0-9]*( *#.*)?$/) {
		blk = 1; blkind = ind; blkpath = p; blkval = ""
		return
	}
	if (v ~ /^\[/) {
		inner = v
		sub(/^\[/, "", inner)
		sub(/\] *(#.*)?$/, "", inner)
		n = split(inner, parts, ",")
		i = 0
		for (item = 1; item <= n; item++) {
			iv = unquote(parts[item])
			if (iv == "" && parts[item] !~ /["']/) continue
			emit(join(p, i), iv)
			i++
		}
		return
	}
	if (v ~ /^\{/) {
		inner = v
		sub(/^\{/, "", inner)
		sub(/\} *(#.*)?$/, "", inner)
		n = split(inner, parts, ",")
		for (item = 1; item <= n; item++) {
			sub(/^ */, "", parts[item])
			if (!iskey(parts[item])) continue
			k = keyname
			gsub(/[. ]/, "_", k)
			emit(join(p, k), unquote(keyrest))
		}
		return
	}
	emit(p, unquote(v))
}

function unquote(v,    q, e, out) {
	sub(/^ */, "", v)
	q = substr(v, 1, 1)
	if (q == "'") {
		# single quotes: '' is a literal quote
		v = substr(v, 2)
		out = ""
		while ((e = index(v, "'")) > 0) {
			if (substr(v, e + 1, 1) == "'") { out = out substr(v, 1, e); v = substr(v, e + 2); continue }
			return out substr(v, 1, e - 1)
		}
		return out v
	}
	if (q == "\"") {
		v = substr(v, 2)
		out = ""
		while (v != "") {
			e = match(v, /["\\]/)
			if (e == 0) return out v
			out = out substr(v, 1, e - 1)
			if (substr(v, e, 1) == "\"") return out
			q = substr(v, e + 1, 1)
			if (q == "n" || q == "t" || q == "r") q = " "
			out = out q
			v = substr(v, e + 2)
		}
		return out
	}
	sub(/ +#.*$/, "", v)
	sub(/ *$/, "", v)
	return v
}
