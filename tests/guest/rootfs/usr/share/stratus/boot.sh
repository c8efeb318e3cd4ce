#!/bin/sh
# Boot script of the stratus test guest (busybox sh), run once by /init.
#
# Loads the drivers, finds the seed (NoCloud "cidata" or OpenStack config
# drive "config-2"; without either, once the network is up, the metadata
# service at 169.254.169.254), mounts the data disk, configures hostname, keys and
# network, runs a "#!" user-data script and prints the summary line:
#   stratus-guest: hostname=.. instance-id=.. ip=.. userdata=.. seed=.. disk=..
#
# The seed is untrusted input. Nothing read from meta-data, network-config or
# network_data.json is ever evaluated: it goes through the awk parsers in this
# directory, which emit validated plain values, and the shell only passes
# those (quoted) as arguments. Only user-data is meant to run, and only when
# it is a "#!" script.
#
# Every process costs ~10 ms under TCG, so the hot paths use shell builtins.
#
# No "set -e": a failed step is reported and the boot goes on, so that the
# summary line is always printed. "set -u" catches typos.
set -u

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

LIB=/usr/share/stratus
STATE=/run/stratus
SEEDMNT=$STATE/seed
DISKMNT=/mnt/disk
mkdir -p "$STATE/dhcp" "$SEEDMNT" "$DISKMNT"

say() { echo "stratus-guest: $*"; }
DEBUG=0
# debug-only progress lines with the uptime (kernel command line: stratus.debug)
dbg() {
	[ "$DEBUG" = 1 ] || return 0
	read -r _up _ </proc/uptime
	say "debug: $* (t=$_up)"
}

valid_id() {
	case "$1" in '' | -* | *[!A-Za-z0-9_.:@-]*) return 1 ;; esac
	return 0
}
valid_ip4() {
	case "$1" in '' | *[!0-9.]* | *..* | .* | *.) return 1 ;; esac
	return 0
}
valid_cidr() {
	case "$1" in */*) ;; *) return 1 ;; esac
	valid_ip4 "${1%/*}" || return 1
	case "${1#*/}" in '' | *[!0-9]*) return 1 ;; esac
	return 0
}
valid_mac() {
	case "$1" in
	[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]) return 0 ;;
	esac
	return 1
}

# sets BLOCKDEVS to the /dev nodes of CD-ROMs and disks (and partitions)
list_block_devices() {
	BLOCKDEVS=
	for _b in /sys/class/block/*; do
		_n=${_b##*/}
		case "$_n" in
		sr[0-9]* | vd[a-z]* | sd[a-z]* | hd[a-z]* | xvd[a-z]*)
			[ -b "/dev/$_n" ] && BLOCKDEVS="$BLOCKDEVS /dev/$_n"
			;;
		esac
	done
}

# ------------------------------------------------------------- early setup

say booting

read -r cmdline </proc/cmdline
WAIT_TENTHS=30
ROOTDEV=
set -f
for arg in $cmdline; do
	case "$arg" in
	stratus.debug | stratus.debug=1) DEBUG=1 ;;
	stratus.wait=*)
		w=${arg#stratus.wait=}
		case "$w" in '' | *[!0-9]*) ;; *) WAIT_TENTHS=$((w * 10)) ;; esac
		;;
	root=/dev/*) ROOTDEV=${arg#root=} ;;
	esac
done
set +f
# keep kernel chatter off the lines we print (it is all in dmesg)
[ "$DEBUG" = 1 ] || dmesg -n 3

hostname localhost
ip link set lo up

# ------------------------------------------------------------------ modules
dbg "modules"

BG_PID=
if [ -s /etc/stratus/modules ]; then
	mods=
	ata=
	bg=
	while read -r m; do
		case "$m" in
		'' | '#'*) ;;
		ata_piix | ahci | sr_mod) ata="$ata $m" ;;
		virtio_scsi) bg="$bg $m" ;;
		*) mods="$mods $m" ;;
		esac
	done </etc/stratus/modules
	modprobe -a scsi_mod libata cdrom 2>/dev/null
	# The ATA probe partly sleeps: run it alongside the other drivers.
	ata_pid=
	if [ -n "$ata" ]; then
		# shellcheck disable=SC2086
		modprobe -a $ata 2>/dev/null &
		ata_pid=$!
	fi
	# shellcheck disable=SC2086
	modprobe -a $mods 2>/dev/null
	[ -z "$ata_pid" ] || wait "$ata_pid"
	# virtio-scsi scans all 256 targets of a controller, seconds under TCG,
	# adding the devices as it finds them (sd/sr are loaded by now): let it
	# run in the background; the seed scan below waits for it only if it
	# has to.
	if [ -n "$bg" ]; then
		# shellcheck disable=SC2086
		modprobe -a $bg 2>/dev/null &
		BG_PID=$!
	fi
	for m in $ata $mods; do
		[ -d "/sys/module/$m" ] || say "warning: module $m is not loaded"
	done
fi

# --------------------------------------------------------------------- seed
dbg "seed scan"

EXTMAGIC=$(printf 'S\357')

# probe DEV: sets PFS (iso9660, ext4, vfat or empty) and PLABEL, reading the
# superblocks with dd (busybox's findfs would do, but it opens every block
# device, and an empty CD-ROM drive costs 0.1 s per open under TCG)
probe() {
	PFS=
	PLABEL=
	# ISO 9660 primary volume descriptor: "CD001" at 32769, volume id at 32808
	_p=$(dd if="$1" bs=1 skip=32769 count=71 2>/dev/null | tr '\000\n' '  ')
	if [ "${_p:0:5}" = CD001 ]; then
		PFS=iso9660
		PLABEL=${_p:39:32}
	else
		case "$1" in /dev/sr*) return 0 ;; esac
		# ext2/3/4: magic 0xEF53 at 1080, label at 1144
		if [ "$(dd if="$1" bs=2 skip=540 count=1 2>/dev/null)" = "$EXTMAGIC" ]; then
			PFS=ext4
			PLABEL=$(dd if="$1" bs=8 skip=143 count=2 2>/dev/null | tr '\000\n' '  ')
		else
			# FAT: label at 43 (FAT12/16, "FAT" at 54) or 71 (FAT32, "FAT32" at 82)
			_p=$(dd if="$1" bs=1 skip=43 count=47 2>/dev/null | tr '\000\n' '  ')
			if [ "${_p:39:5}" = FAT32 ]; then
				PFS=vfat
				PLABEL=${_p:28:11}
			elif [ "${_p:11:3}" = FAT ]; then
				PFS=vfat
				PLABEL=${_p:0:11}
			fi
		fi
	fi
	PLABEL=${PLABEL%"${PLABEL##*[! ]}"}
}

# scan_devices: probes every block device; sets CFG_DEV/CFG_FS (first
# config-2), NC_DEV/NC_FS (first cidata), EXT_DEVS (ext file systems that
# are not seeds)
scan_devices() {
	CFG_DEV=
	NC_DEV=
	EXT_DEVS=
	list_block_devices
	for _d in $BLOCKDEVS; do
		probe "$_d"
		[ -n "$PFS" ] || continue
		case "$PLABEL" in
		[Cc][Oo][Nn][Ff][Ii][Gg]-2)
			[ -n "$CFG_DEV" ] || { CFG_DEV=$_d; CFG_FS=$PFS; }
			;;
		[Cc][Ii][Dd][Aa][Tt][Aa])
			[ -n "$NC_DEV" ] || { NC_DEV=$_d; NC_FS=$PFS; }
			;;
		*) [ "$PFS" = ext4 ] && EXT_DEVS="$EXT_DEVS $_d" ;;
		esac
	done
	SCANNED=$BLOCKDEVS
}

SEED=none
SEED_DEV=
SEED_FS=
CFG_FS=
NC_FS=
# The drivers probe synchronously, so the devices normally exist by now and
# the first scan finds the seed. Otherwise watch the list of block devices
# (rescanning when it changes) until it has been stable for 0.3 s with no
# SCSI scan running, or for stratus.wait seconds (default 3) at most.
scan_devices
tries=0
stable=0
while [ -z "$CFG_DEV$NC_DEV" ] && [ "$tries" -lt "$WAIT_TENTHS" ]; do
	usleep 100000
	tries=$((tries + 1))
	list_block_devices
	if [ "$BLOCKDEVS" != "$SCANNED" ]; then
		scan_devices
		stable=0
	else
		stable=$((stable + 1))
		# a SCSI scan still running may add devices
		[ -n "$BG_PID" ] && kill -0 "$BG_PID" 2>/dev/null && stable=0
		[ -n "$BLOCKDEVS" ] && [ "$stable" -ge 3 ] && break
	fi
done

if [ -n "$CFG_DEV" ]; then
	SEED=configdrive
	SEED_DEV=$CFG_DEV
	SEED_FS=$CFG_FS
elif [ -n "$NC_DEV" ]; then
	SEED=nocloud
	SEED_DEV=$NC_DEV
	SEED_FS=$NC_FS
fi

if [ "$SEED" != none ]; then
	if mount -t "$SEED_FS" -o ro "$SEED_DEV" "$SEEDMNT" 2>/dev/null; then
		say "seed $SEED on $SEED_DEV ($SEED_FS)"
	else
		say "warning: cannot mount seed $SEED_DEV ($SEED_FS)"
		SEED=none
	fi
fi

# ------------------------------------------------------------ seed parsing
dbg "seed parsing"

HOST=
IID=
SSHKEY=
PLAN=$STATE/net.plan
KEYS=$STATE/public-keys
META=
NETCFG=
NETMODE=
USERDATA_FILE=
: >"$PLAN"
: >"$KEYS"

if [ "$SEED" = configdrive ]; then
	base=$SEEDMNT/openstack/latest
	if [ ! -d "$base" ]; then
		# no "latest": take the newest dated version
		for v in "$SEEDMNT"/openstack/[0-9]*; do [ -d "$v" ] && base=$v; done
	fi
	[ -f "$base/meta_data.json" ] && META=$base/meta_data.json
	[ -f "$base/network_data.json" ] && NETCFG=$base/network_data.json
	[ -f "$base/user_data" ] && USERDATA_FILE=$base/user_data
	NETMODE=netdata
elif [ "$SEED" = nocloud ]; then
	[ -f "$SEEDMNT/meta-data" ] && META=$SEEDMNT/meta-data
	[ -f "$SEEDMNT/network-config" ] && NETCFG=$SEEDMNT/network-config
	[ -f "$SEEDMNT/user-data" ] && USERDATA_FILE=$SEEDMNT/user-data
	NETMODE=netplan
fi

# flatten FILE: JSON if it is a config drive file or starts with "{" or "["
# (NoCloud meta-data may be JSON too), YAML otherwise
flatten() {
	_c=
	if [ "$SEED" = configdrive ]; then
		_c='{'
	else
		# the last line may lack its newline
		while IFS= read -r _line || [ -n "$_line" ]; do
			_line=${_line#"${_line%%[! 	]*}"}
			[ -n "$_line" ] && { _c=${_line%"${_line#?}"}; break; }
		done <"$1"
	fi
	case "$_c" in
	'{' | '[') awk -f "$LIB/json.awk" "$1" ;;
	*) awk -f "$LIB/yaml.awk" "$1" ;;
	esac
}

# parse_meta: instance id, hostname and keys from $META
parse_meta() {
	if [ -n "$META" ]; then
		flatten "$META" >"$STATE/meta.flat" || say "warning: ${META##*/} could not be parsed fully"
		awk -v keys="$KEYS" -f "$LIB/meta.awk" "$STATE/meta.flat" >"$STATE/meta.vals"
		while read -r k v; do
			case "$k" in
			iid) IID=$v ;;
			host) HOST=$v ;;
			sshkey) SSHKEY=$v ;;
			esac
		done <"$STATE/meta.vals"
	elif [ "$SEED" != none ]; then
		say "warning: the seed has no meta-data"
	fi
}
parse_meta
if [ -n "$NETCFG" ]; then
	flatten "$NETCFG" >"$STATE/net.flat" || say "warning: ${NETCFG##*/} could not be parsed fully"
	awk -v mode="$NETMODE" -f "$LIB/plan.awk" "$STATE/net.flat" >"$PLAN"
fi

# ---------------------------------------------------- hostname, keys

# apply_identity: hostname and keys
apply_identity() {
	[ -n "$HOST" ] || HOST=localhost
	[ -n "$IID" ] || IID=none
	hostname "$HOST"
	echo "$HOST" >/etc/hostname
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$HOST" >/etc/hosts
	if [ -s "$KEYS" ]; then
		mkdir -p /root/.ssh
		chmod 0700 /root/.ssh
		cp "$KEYS" /root/.ssh/authorized_keys
		chmod 0600 /root/.ssh/authorized_keys
	fi
}
apply_identity

# --------------------------------------------------------------------- disk
dbg "disk"

# The data disk: the first virtio (or SCSI) disk, or root= if given, that
# holds ext2/3/4 and is not a seed. Mounted read-write so that user-data can
# write to it; /usr/share/stratus/shutdown syncs and unmounts it.
DISK=none
DISK_DEV=
find_disk() {
	for dev in $ROOTDEV $EXT_DEVS; do
		case " $EXT_DEVS " in *" $dev "*) ;; *) continue ;; esac
		case "$dev" in /dev/vd* | /dev/sd* | /dev/xvd* | "$ROOTDEV") ;; *) continue ;; esac
		[ "$dev" = "$SEED_DEV" ] && continue
		if mount -t ext4 -o rw "$dev" "$DISKMNT" 2>/dev/null; then
			DISK_DEV=$dev
			return 0
		fi
		if mount -t ext4 -o ro "$dev" "$DISKMNT" 2>/dev/null; then
			say "warning: $dev is read-only"
			DISK_DEV=$dev
			return 0
		fi
		say "warning: cannot mount $dev"
	done
	return 1
}
if ! find_disk && [ -n "$BG_PID" ]; then
	# the SCSI scan may have added disks since the seed scan, or still be
	# running: give it stratus.wait seconds to finish and look again
	tries=0
	while kill -0 "$BG_PID" 2>/dev/null && [ "$tries" -lt "$WAIT_TENTHS" ]; do
		usleep 100000
		tries=$((tries + 1))
	done
	scan_devices
	find_disk
fi
if [ -n "$DISK_DEV" ]; then
	say "disk $DISK_DEV mounted on $DISKMNT"
	if [ -f "$DISKMNT/stratus-disk" ]; then
		DISK=$(awk 'NR == 1 { gsub(/[^ -~]/, ""); print substr($0, 1, 200) } { exit }' "$DISKMNT/stratus-disk")
		[ -n "$DISK" ] || DISK=none
	fi
fi

# ------------------------------------------------------------------ network
dbg "network"

IFMAP=$STATE/ifmap
: >"$IFMAP"
: >"$STATE/dns"
: >"$STATE/search"

# if_for_mac MAC: sets IFN to the interface with that MAC address
if_for_mac() {
	IFN=
	for _n in /sys/class/net/*; do
		read -r _a 2>/dev/null <"$_n/address" || continue
		[ "$_a" = "$1" ] && { IFN=${_n##*/}; return 0; }
	done
	return 1
}
# if_of ID: sets IFN to the interface configured for plan entry ID
if_of() {
	IFN=
	while read -r _id _if; do
		[ "$_id" = "$1" ] && { IFN=$_if; return 0; }
	done <"$IFMAP"
	return 1
}

if [ -n "$NETCFG" ] && ! grep -qE '^(nic|vlan) ' "$PLAN"; then
	say "warning: ${NETCFG##*/} names no usable interface, using DHCP"
	NETCFG=
fi
if [ -z "$NETCFG" ]; then
	# no network configuration: DHCP on every Ethernet interface
	: >"$PLAN"
	for n in /sys/class/net/*; do
		i=${n##*/}
		[ "$i" = lo ] && continue
		read -r t 2>/dev/null <"$n/type" || continue
		[ "$t" = 1 ] || continue # ARPHRD_ETHER
		valid_id "$i" && printf 'nic %s - %s\ndhcp %s\n' "$i" "$i" "$i" >>"$PLAN"
	done
fi

# pass 1: interfaces (by MAC, else by name), then VLANs on top of them
while read -r kind a b c d; do
	case "$kind" in
	note) say "network: ignored: $a $b $c $d" ;;
	nic)
		valid_id "$a" || continue
		IFN=
		if [ "$b" != - ]; then
			valid_mac "$b" && if_for_mac "$b"
		elif [ "$c" != - ] && valid_id "$c" && [ -e "/sys/class/net/$c" ]; then
			IFN=$c
		fi
		if [ -z "$IFN" ]; then
			say "warning: no interface for $a (mac $b, name $c)"
			continue
		fi
		echo "$a $IFN" >>"$IFMAP"
		ip link set "$IFN" up
		;;
	esac
done <"$PLAN"
while read -r kind a b c d; do
	[ "$kind" = vlan ] || continue
	if ! valid_id "$a" || ! valid_id "$b"; then continue; fi
	case "$c" in '' | *[!0-9]*) continue ;; esac
	if_of "$b" || { say "warning: no parent interface for vlan $a"; continue; }
	[ -d /sys/module/8021q ] || modprobe 8021q
	vif=$IFN.$c
	if ip link add link "$IFN" name "$vif" type vlan id "$c"; then
		[ "$d" != - ] && valid_mac "$d" && ip link set dev "$vif" address "$d"
		ip link set "$vif" up
		echo "$a $vif" >>"$IFMAP"
	else
		say "warning: cannot create vlan $vif"
	fi
done <"$PLAN"

# pass 2: MTU and static addresses; pass 3: routes and DNS
while read -r kind a b c d; do
	case "$kind" in
	mtu)
		if_of "$a" || continue
		case "$b" in '' | *[!0-9]*) continue ;; esac
		ip link set "$IFN" mtu "$b" || say "warning: cannot set mtu $b on $IFN"
		;;
	addr)
		if_of "$a" || continue
		valid_cidr "$b" || continue
		ip addr add "$b" dev "$IFN" || say "warning: cannot add $b to $IFN"
		;;
	esac
done <"$PLAN"
while read -r kind a b c d; do
	case "$kind" in
	route)
		if_of "$a" || continue
		if ! valid_cidr "$b" || ! valid_ip4 "$c"; then continue; fi
		ip route add "$b" via "$c" dev "$IFN" || say "warning: cannot add route $b via $c dev $IFN"
		;;
	dns) valid_ip4 "$a" && echo "$a" >>"$STATE/dns" ;;
	search)
		case "$a" in '' | -* | *[!A-Za-z0-9.-]*) ;; *) echo "$a" >>"$STATE/search" ;; esac
		;;
	esac
done <"$PLAN"
[ -s "$STATE/dns" ] || [ -s "$STATE/search" ] && "$LIB/resolvconf"

# pass 4: DHCP, all interfaces in parallel
dbg "dhcp"
dhcp_pids=
while read -r kind a b c d; do
	[ "$kind" = dhcp ] || continue
	if_of "$a" || continue
	(
		udhcpc -i "$IFN" -n -q -t 5 -T 1 -O staticroutes -s "$LIB/udhcpc.script" >"$STATE/udhcpc.$IFN.log" 2>&1 ||
			say "warning: no DHCP lease on $IFN"
	) &
	dhcp_pids="$dhcp_pids $!"
done <"$PLAN"
# shellcheck disable=SC2086
[ -z "$dhcp_pids" ] || wait $dhcp_pids

IP=none
while read -r _id ifn; do
	a=$(ip -4 -o addr show dev "$ifn" 2>/dev/null | awk '$3 == "inet" { print $4; exit }')
	if [ -n "$a" ]; then
		IP=$a
		break
	fi
done <"$IFMAP"

# ----------------------------------------------------------- metadata service
# No seed disk: ask the metadata service, as cloud-init's OpenStack
# datasource does (the network is up by now). What it returns is parsed
# like a config drive's files, never evaluated.
MDURL=http://169.254.169.254/openstack/latest
if [ "$SEED" = none ] && [ "$IP" != none ]; then
	dbg "metadata"
	mkdir -p "$STATE/md"
	tries=0
	while [ "$tries" -lt 10 ]; do
		if timeout 10 wget -q -O "$STATE/md/meta_data.json" "$MDURL/meta_data.json" 2>/dev/null; then
			SEED=metadata
			break
		fi
		tries=$((tries + 1))
		sleep 1
	done
	if [ "$SEED" = metadata ]; then
		say "seed metadata from ${MDURL%/openstack/latest}"
		META=$STATE/md/meta_data.json
		# 404 when the server has no user data
		if timeout 10 wget -q -O "$STATE/md/user_data" "$MDURL/user_data" 2>/dev/null; then
			USERDATA_FILE=$STATE/md/user_data
		fi
		SEED=configdrive # the files are the config drive's: JSON
		parse_meta
		SEED=metadata
		apply_identity
	else
		say "warning: no seed and no metadata service"
		rm -f "$STATE/md/meta_data.json"
	fi
fi

# ---------------------------------------------------------------- user-data
dbg "user-data"

USERDATA=none
run_userdata() {
	ud=$STATE/user-data
	cp "$1" "$ud" || {
		USERDATA=failed
		return
	}
	magic=$(dd if="$ud" bs=2 count=1 2>/dev/null)
	if [ "$magic" = "$(printf '\037\213')" ]; then
		gunzip -c <"$ud" >"$ud.raw" && mv "$ud.raw" "$ud"
		magic=$(dd if="$ud" bs=2 count=1 2>/dev/null)
	fi
	if [ "$magic" != '#!' ]; then
		USERDATA=skipped
		say "user-data is not a script, skipped"
		return
	fi
	chmod 0700 "$ud"
	say "running user-data"
	(cd / && exec env -i PATH="$PATH" HOME=/root TERM=linux "$ud") </dev/null
	rc=$?
	say "user-data exited rc=$rc"
	if [ "$rc" = 0 ]; then USERDATA=ok; else USERDATA=failed; fi
}
if [ -n "$USERDATA_FILE" ] && [ -s "$USERDATA_FILE" ]; then
	run_userdata "$USERDATA_FILE"
fi

# ------------------------------------------------------------------ summary

[ -n "$SSHKEY" ] && say "ssh-key=$SSHKEY"
# The serial of each virtio disk (a volume's is its id, as with Nova).
for f in /sys/block/vd*/serial; do
	[ -r "$f" ] || continue
	d=${f#/sys/block/}
	s=$(cat "$f" 2>/dev/null)
	[ -n "$s" ] && say "disk-serial ${d%/serial}=$s"
done
say "hostname=$HOST instance-id=$IID ip=$IP userdata=$USERDATA seed=$SEED disk=$DISK"
read -r up _ </proc/uptime
say "boot-time=${up}s"
say ready
exit 0
