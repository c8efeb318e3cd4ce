# json.awk - tolerant JSON flattener for busybox awk (stratus test guest).
#
# Reads one JSON document (compact or pretty-printed) and prints one line per
# scalar:   <path> TAB <value>
# where <path> joins object keys and array indexes with dots, e.g.
#   links.0.ethernet_mac_address	fa:16:3e:12:34:56
#   public_keys.mykey	ssh-ed25519 AAAA... me@host
# Strings are unescaped (\uXXXX outside ASCII becomes "?"); tabs, newlines and
# other control characters in keys and values become spaces, and dots in keys
# become "_", so every output line is exactly one path and one value.
# null is printed as an empty value. On a syntax error it prints what it parsed
# so far, reports the error on stderr and exits 1.
# The input is untrusted data: nothing here executes any part of it.

{ S = S $0 "\n" }

END {
	n = length(S)
	pos = 1
	if (substr(S, 1, 3) == "\357\273\277") pos = 4   # UTF-8 BOM
	err = 0
	if (!jvalue("")) err = 1
	if (!err) {
		jws()
		if (pos <= n) err = 1
	}
	if (err) {
		print "json.awk: syntax error near byte " pos > "/dev/stderr"
		exit 1
	}
}

function jws(    c) {
	while (pos <= n) {
		c = substr(S, pos, 1)
		if (c == " " || c == "\t" || c == "\n" || c == "\r") pos++
		else break
	}
}

function jjoin(path, k) {
	return (path == "") ? k : path "." k
}

function jemit(path, v) {
	gsub(/[\001-\037\177]/, " ", v)
	if (path == "") path = "."
	print path "\t" v
}

function jvalue(path,    c, start, lit) {
	jws()
	if (pos > n) return 0
	c = substr(S, pos, 1)
	if (c == "{") return jobject(path)
	if (c == "[") return jarray(path)
	if (c == "\"") {
		if (!jstring()) return 0
		jemit(path, jstr)
		return 1
	}
	start = pos
	while (pos <= n && substr(S, pos, 1) ~ /[-+.0-9A-Za-z]/) pos++
	if (pos == start) return 0
	lit = substr(S, start, pos - start)
	if (lit == "null") lit = ""
	else if (lit != "true" && lit != "false" && lit !~ /^-?[0-9][0-9]*(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) return 0
	jemit(path, lit)
	return 1
}

function jobject(path,    c, key) {
	pos++
	jws()
	if (substr(S, pos, 1) == "}") { pos++; return 1 }
	while (1) {
		jws()
		if (substr(S, pos, 1) != "\"") return 0
		if (!jstring()) return 0
		key = jstr
		gsub(/[\001-\037\177. ]/, "_", key)
		jws()
		if (substr(S, pos, 1) != ":") return 0
		pos++
		if (!jvalue(jjoin(path, key))) return 0
		jws()
		c = substr(S, pos, 1)
		pos++
		if (c == ",") continue
		if (c == "}") return 1
		return 0
	}
}

function jarray(path,    c, i) {
	pos++
	jws()
	if (substr(S, pos, 1) == "]") { pos++; return 1 }
	i = 0
	while (1) {
		if (!jvalue(jjoin(path, i))) return 0
		i++
		jws()
		c = substr(S, pos, 1)
		pos++
		if (c == ",") continue
		if (c == "]") return 1
		return 0
	}
}

# Parses the string starting at pos (on the opening quote) into jstr.
function jstring(    c, out, rest, m, h, code) {
	pos++
	out = ""
	while (pos <= n) {
		# copy a run of plain characters at once
		rest = substr(S, pos, 256)
		m = match(rest, /["\\]/)
		if (m == 0) { out = out rest; pos += length(rest); continue }
		out = out substr(rest, 1, m - 1)
		pos += m - 1
		c = substr(S, pos, 1)
		if (c == "\"") { pos++; jstr = out; return 1 }
		# backslash escape
		c = substr(S, pos + 1, 1)
		pos += 2
		if (c == "n" || c == "r" || c == "t" || c == "b" || c == "f") out = out " "
		else if (c == "u") {
			h = tolower(substr(S, pos, 4))
			if (h !~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) return 0
			pos += 4
			code = hexval(h)
			if (code >= 32 && code < 127) out = out sprintf("%c", code)
			else if (code < 32) out = out " "
			else out = out "?"
		} else if (c == "") return 0
		else out = out c     # \" \\ \/ and anything else: the character itself
	}
	return 0
}

function hexval(h,    i, v) {
	v = 0
	for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
