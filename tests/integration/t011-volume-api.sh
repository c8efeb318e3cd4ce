#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t011 - Cinder v3 and Nova's volume attachments through Debian's openstack
# CLI, against a stratusd with a registered host but no real agent: this
# test plays the agent's side of docs/agent-protocol.md ("Volumes") with the
# host credential (registration with volume_backends, desired state, reports
# and task results) to move statuses, and checks what the controller asks
# of the agent.  Volumes (empty, from an image, a snapshot, a volume, a
# backup), extend, metadata, bootable, types and extra specs, snapshots,
# backups and restore, services, quotas and limits, attach and detach
# (server add/remove volume), server create --volume and --boot-from-volume
# with delete_on_termination, the errors (another project's server or
# volume 404, in-use 400, delete in-use 400, shrink 400, over quota 413,
# image too big 400, unknown type 404) in Cinder's and Nova's fault format;
# responses are validated against Tempest's response schemas.  The real
# guest end to end (iSCSI, dd in the guest) is another test, with the agent.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SCHEMA="$PY $(dirname "$0")/tempest_schema.py"

start_stratusd || { not_ok "stratusd starts"; done_testing; }
ok "stratusd starts"

HOST=vhost1
"$ST_BUILD/stratus-manage" --data-dir "$ST_DATA" host add $HOST >/dev/null
HAUTH=(-H "Authorization: Bearer $(cat "$ST_DATA/hosts/$HOST.secret")" -H 'Content-Type: application/json')

# agent POST|GET SUFFIX [JSON]: an internal call as the host; body in $ST_TMP/abody.
agent() {
    local method=$1 path=$2 data=${3:-}
    local args=(-s -o "$ST_TMP/abody" -w '%{http_code}' -X "$method" "${HAUTH[@]}")
    [ -n "$data" ] && args+=(-d "$data")
    ACODE=$(curl "${args[@]}" "$ST_URL/internal/v1/hosts/$HOST$path")
}
register() {
    agent POST "" '{"vcpus": 8, "memory_mb": 8192, "local_gb": 100,
        "volume_backends": [{"name": "file", "total_gb": 100, "free_gb": 90, "iscsi": false}]}'
}
report() { agent POST /report "$1"; }
desired() { agent GET /desired; cat "$ST_TMP/abody"; }
# jq on the desired state
dq() { desired | jq -c "$1"; }

# api METHOD PATH [JSON] [HEADER]: a public call with $ST_TOKEN; CODE, body in $ST_TMP/body.
api() {
    local method=$1 path=$2 data=${3:-}
    local args=(-s -o "$ST_TMP/body" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $ST_TOKEN"
        -H 'Content-Type: application/json')
    [ -n "${4:-}" ] && args+=(-H "$4")
    [ -n "$data" ] && args+=(-d "$data")
    CODE=$(curl "${args[@]}" "$ST_URL$path")
}
vapi() { api "$1" "/volume/v3/$PROJECT$2" "${3:-}" "${4:-}"; }
body() { jq -r "$1" "$ST_TMP/body"; }

# schema "what" SERVICE MODULE ATTRIBUTE: the last body and CODE match Tempest's schema.
schema() {
    local out
    if out=$($SCHEMA --status "$CODE" "$2" "$3" "$4" <"$ST_TMP/body" 2>&1); then
        ok "$1 matches Tempest's $2 $3.$4"
    else
        not_ok "$1 matches Tempest's $2 $3.$4"
        printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'
        head -c 600 "$ST_TMP/body" | sed 's/^/#   body: /'
        echo
    fi
}

# fault "what" STATUS KEY: the last call failed with STATUS and {KEY: {code, message}}.
fault() {
    local got
    got=$(jq -r --arg k "$3" '"\(.[$k].code) \(.[$k].message | length > 0)"' "$ST_TMP/body" 2>/dev/null)
    if [ "$CODE" = "$2" ] && [ "$got" = "$2 true" ]; then
        ok "$1 ($2 $3)"
    else
        not_ok "$1 ($2 $3)"
        echo "#   got $CODE: $(head -c 300 "$ST_TMP/body")"
    fi
}

# available ID [SIZE]: the fake agent reports the volume made, with its file.
available() {
    report "{\"volumes\": [{\"id\": \"$1\", \"state\": \"available\", \"size\": ${2:-1},
        \"location\": {\"type\": \"file\", \"path\": \"/pool/volume-$1.qcow2\", \"format\": \"qcow2\"}}]}"
}
vstatus() { os volume show "$1" -f value -c status 2>&1; }

register
check_eq "the host registers with a file backend" 200 "$ACODE"
ST_TOKEN=$(os token issue -f value -c id)
PROJECT=$(os token issue -f value -c project_id)

# ---- discovery, services, types ----------------------------------------------
check_eq "bootstrap's openrc pins the newest volume microversion" "3.60" "${OS_VOLUME_API_VERSION:-}"
api GET /volume/v3
check_eq "GET /volume/v3 answers" 200 "$CODE"
check_match "the version document names microversions 3.0 to 3.60" '"min_version":"3.0".*|"version":"3.60"' \
    "$(jq -c '.versions[0] | {min_version, version}' "$ST_TMP/body")"
out=$(os volume service list -f value -c Binary -c Host -c State 2>&1)
check_match "volume service list shows cinder-volume at $HOST@file, up" "cinder-volume $HOST@file up" "$out"
check_match "volume service list shows cinder-scheduler and cinder-backup" "cinder-scheduler.*up" "$out"
vapi GET /os-services
schema "os-services" volume services list_services
check_eq "volume type list has the default type 'file'" "file" "$(os volume type list -f value -c Name 2>&1)"
vapi GET /types
schema "GET /types" volume volume_types list_volume_types
vapi GET /types/default
check_eq "types/default is 'file'" "file" "$(body .volume_type.name)"
check "volume type create fast --property volume_backend_name=file" \
    os volume type create --property volume_backend_name=file --description quick fast
vapi GET /types/fast
schema "GET /types/{id}" volume volume_types show_volume_type
check "volume type set --property iscsi=true fast" os volume type set --property iscsi=true fast
check_eq "the extra specs name the backend and iSCSI" '{"iscsi":"true","volume_backend_name":"file"}' \
    "$(os volume type show fast -f json 2>&1 | jq -cS .properties)"
vapi POST /types '{"volume_type": {"name": "tmp-type"}}'
schema "POST /types" volume volume_types create_volume_type
check "volume type delete" os volume type delete tmp-type

# ---- volumes ---------------------------------------------------------------------
VOL=$(os volume create --size 1 --description first --property k=v vol1 -f value -c id 2>&1)
check_match "volume create --size 1 vol1" '^[0-9a-f-]{36}$' "$VOL"
check_eq "a new volume is creating" creating "$(vstatus vol1)"
check_match "the desired state lists it on the host, size 1, no source" \
    "\"id\":\"$VOL\",\"backend\":\"file\",\"size\":1,\"delete\":false,\"source\":null" "$(dq .volumes)"
available "$VOL"
check_eq "the report of the agent makes it available" available "$(vstatus vol1)"
check_eq "it lives at HOST@backend#pool" "$HOST@file#file" \
    "$(os volume show vol1 -f value -c os-vol-host-attr:host 2>&1)"
vapi GET "/volumes/$VOL"
schema "GET /volumes/{id}" volume volumes show_volume
vapi GET /volumes/detail
schema "GET /volumes/detail" volume volumes list_volumes_with_detail
vapi GET /volumes
schema "GET /volumes" volume volumes list_volumes_no_detail
vapi POST /volumes '{"volume": {"size": 1, "name": "vol-raw"}}'
schema "POST /volumes" volume volumes create_volume
RAW=$(body .volume.id)
vapi PUT "/volumes/$RAW" '{"volume": {"description": "changed"}}'
schema "PUT /volumes/{id}" volume volumes update_volume
check "volume set --name --property --bootable" os volume set --name vol1b --property a=b --bootable vol1
check_eq "volume show has the new name, properties and bootable" 'true {"a":"b","k":"v"}' \
    "$(os volume show vol1b -f json 2>&1 | jq -rc '"\(.bootable) \(.properties | tojson)"')"
check "volume set --name back" os volume set --name vol1 vol1b
vapi GET "/volumes/detail?metadata=%7B%27k%27%3A+%27v%27%7D"
check_eq "a metadata filter (as cinderclient sends it) finds it" "vol1" "$(body '[.volumes[].name] | join(",")')"
check_eq "volume list --status creating finds only vol-raw" "vol-raw" \
    "$(os volume list --status creating -f value -c Name 2>&1)"
vapi GET "/volumes/detail?limit=1&sort=name:asc"
check_eq "limit=1 sort=name:asc gives one volume and a next link" "1 vol-raw true" \
    "$(body '"\(.volumes | length) \(.volumes[0].name) \(.volumes_links[0].rel == "next")"')"
vapi GET "/volumes/detail?marker=$RAW&sort=name:asc"
check_eq "the marker pages on" "vol1" "$(body '[.volumes[].name] | join(",")')"
vapi GET /volumes/summary "" "OpenStack-API-Version: volume 3.12"
check_eq "volumes/summary counts 2 volumes of 2 GiB" "2 2" "$(body '"\(.["volume-summary"].total_count) \(.["volume-summary"].total_size)"')"

# extend
check "volume set --size 2 (os-extend)" os volume set --size 2 vol1
check_eq "it is extending" extending "$(vstatus vol1)"
check_eq "the desired size is 2" 2 "$(dq ".volumes[] | select(.id == \"$VOL\") | .size")"
available "$VOL" 2
check_eq "the report of size 2 makes it available" "available 2" \
    "$(os volume show vol1 -f value -c status -c size 2>&1 | sort | tr '\n' ' ' | awk '{print $2, $1}')"
vapi POST "/volumes/$VOL/action" '{"os-extend": {"new_size": 1}}'
fault "shrinking a volume" 400 badRequest
check_eq "  and it is unchanged" "available 2" \
    "$(os volume show vol1 -f value -c status -c size 2>&1 | sort | tr '\n' ' ' | awk '{print $2, $1}')"
vapi POST "/volumes/$VOL/action" '{"os-update_readonly_flag": {"readonly": true}}'
check_eq "os-update_readonly_flag" 202 "$CODE"
vapi POST "/volumes/$VOL/action" '{"os-update_readonly_flag": {"readonly": false}}'

# errors
vapi POST /volumes '{"volume": {"size": 1, "volume_type": "nosuch"}}'
fault "an unknown volume type" 404 itemNotFound
vapi POST /volumes '{"volume": {"size": 5000}}'
fault "a size over the gigabytes quota" 413 overLimit
check_match "  named as Cinder's VolumeSizeExceedsAvailableQuota" VolumeSizeExceedsAvailableQuota "$(body '.overLimit.message')"
vapi POST /volumes '{"volume": {"size": 0}}'
fault "size 0" 400 badRequest
vapi GET /volumes/00000000-0000-0000-0000-000000000000
fault "an unknown volume" 404 itemNotFound
check_eq "nothing was made by the refused requests" 2 "$(os volume list -f value -c ID 2>&1 | wc -l)"

# from an image
head -c 1048576 /dev/urandom >"$ST_TMP/img.raw"
os image create --disk-format raw --container-format bare --file "$ST_TMP/img.raw" --public img >/dev/null 2>&1
IMG=$(os image show img -f value -c id)
qemu-img create -q -f qcow2 "$ST_TMP/big.qcow2" 2G
os image create --disk-format qcow2 --container-format bare --file "$ST_TMP/big.qcow2" big >/dev/null 2>&1
vapi POST /volumes "{\"volume\": {\"size\": 1, \"imageRef\": \"$(os image show big -f value -c id)\"}}"
fault "an image bigger than the volume" 400 badRequest
IV=$(os volume create --size 1 --image img ivol -f value -c id 2>&1)
check_match "volume create --image img" '^[0-9a-f-]{36}$' "$IV"
check_eq "the desired source is the image" "image $IMG raw" \
    "$(dq ".volumes[] | select(.id == \"$IV\") | .source | \"\(.type) \(.image.id) \(.image.disk_format)\"" | tr -d '"')"
report "{\"volumes\": [{\"id\": \"$IV\", \"state\": \"creating\", \"size\": 1}]}"
check_eq "while its host copies the image in, it is downloading" downloading "$(vstatus ivol)"
available "$IV"
check_eq "a volume from an image is bootable and shows the image" "true img" \
    "$(os volume show ivol -f json 2>&1 | jq -r '"\(.bootable) \(.volume_image_metadata.image_name)"')"

# ---- snapshots ----------------------------------------------------------------------
SNAP=$(os volume snapshot create --volume vol1 snap1 -f value -c id 2>&1)
check_match "volume snapshot create --volume vol1 snap1" '^[0-9a-f-]{36}$' "$SNAP"
check_eq "the desired volume lists the snapshot" "[{\"id\":\"$SNAP\",\"delete\":false}]" \
    "$(dq ".volumes[] | select(.id == \"$VOL\") | .snapshots")"
report "{\"volumes\": [{\"id\": \"$VOL\", \"state\": \"available\", \"size\": 2,
    \"snapshots\": [{\"id\": \"$SNAP\", \"state\": \"available\"}]}]}"
check_eq "the report makes the snapshot available" available \
    "$(os volume snapshot show snap1 -f value -c status 2>&1)"
vapi GET "/snapshots/$SNAP"
schema "GET /snapshots/{id}" volume snapshots show_snapshot
vapi GET /snapshots/detail
schema "GET /snapshots/detail" volume snapshots list_snapshots_with_detail
vapi GET /snapshots
schema "GET /snapshots" volume snapshots list_snapshots_no_detail
vapi PUT "/snapshots/$SNAP" '{"snapshot": {"description": "before"}}'
schema "PUT /snapshots/{id}" volume snapshots update_snapshot
vapi POST /snapshots "{\"snapshot\": {\"volume_id\": \"$RAW\", \"name\": \"s-raw\"}}"
fault "a snapshot of a volume still creating" 400 badRequest
FS=$(os volume create --snapshot snap1 fromsnap -f value -c id 2>&1)
check_match "volume create --snapshot snap1" '^[0-9a-f-]{36}$' "$FS"
check_eq "its desired source is the snapshot, size 2" "snapshot $SNAP 2" \
    "$(dq ".volumes[] | select(.id == \"$FS\") | \"\(.source.type) \(.source.id) \(.size)\"" | tr -d '"')"
FV=$(os volume create --source vol1 fromvol -f value -c id 2>&1)
check_eq "volume create --source vol1: the source is the volume" "volume $VOL" \
    "$(dq ".volumes[] | select(.id == \"$FV\") | \"\(.source.type) \(.source.id)\"" | tr -d '"')"
available "$FS" 2
available "$FV" 2
os volume delete vol1 >/dev/null 2>&1
check_eq "a volume with snapshots is not deleted" available "$(vstatus vol1)"

# ---- backups ------------------------------------------------------------------------
BK=$(os volume backup create --name bk1 vol1 -f value -c id 2>&1)
check_match "volume backup create --name bk1 vol1" '^[0-9a-f-]{36}$' "$BK"
check_eq "the volume is backing-up" backing-up "$(vstatus vol1)"
check_eq "the desired backups of the host list it before its task runs" "$BK" \
    "$(dq '[.backups[].id] | join(",")' | tr -d '"')"
TASK=$(dq ".tasks[] | select(.kind == \"volume_backup\")")
check_eq "the host gets a volume_backup task" "$VOL $BK" "$(echo "$TASK" | jq -r '"\(.volume_id) \(.backup_id)"')"
report "{\"tasks\": [{\"id\": $(echo "$TASK" | jq .id), \"status\": \"done\", \"result\": {\"size\": 4096}}]}"
check_eq "the task's result makes the backup available, the volume available" "available available" \
    "$(os volume backup show bk1 -f value -c status 2>&1) $(vstatus vol1)"
vapi GET "/backups/$BK"
schema "GET /backups/{id}" volume backups show_backup
vapi GET /backups/detail
schema "GET /backups/detail" volume backups list_backups_with_detail
vapi GET /backups
schema "GET /backups" volume backups list_backups_no_detail
vapi POST /backups "{\"backup\": {\"volume_id\": \"$RAW\"}}"
fault "a backup of a volume that is not available" 400 badRequest
# OSC 6.0's "volume backup restore" sends the request and then fails to
# print the reply ("cannot unpack non-iterable VolumeBackupsRestore
# object", a client bug); the restore itself is checked through the API.
os volume backup restore bk1 restored >/dev/null 2>&1
RV=$(os volume show restored -f value -c id 2>&1)
check_match "volume backup restore bk1 restored makes a new volume" '^[0-9a-f-]{36}$' "$RV"
check_eq "it is restoring-backup, the backup restoring" "restoring-backup restoring" \
    "$(vstatus restored) $(os volume backup show bk1 -f value -c status 2>&1)"
check_eq "its desired source is the backup" "backup $BK" \
    "$(dq ".volumes[] | select(.id == \"$RV\") | \"\(.source.type) \(.source.id)\"" | tr -d '"')"
available "$RV" 2
check_eq "the report ends the restore" "available available" \
    "$(vstatus restored) $(os volume backup show bk1 -f value -c status 2>&1)"
vapi POST "/backups/$BK/restore" "{\"restore\": {\"volume_id\": \"$FV\"}}"
schema "POST /backups/{id}/restore into a volume" volume backups restore_backup
TASK=$(dq ".tasks[] | select(.kind == \"volume_restore\")")
check_eq "restoring into an existing volume is a volume_restore task" "$FV $BK" \
    "$(echo "$TASK" | jq -r '"\(.volume_id) \(.backup_id)"')"
available "$FV" 2
check_eq "  which the volume's own report does not end" restoring-backup "$(vstatus fromvol)"
report "{\"tasks\": [{\"id\": $(echo "$TASK" | jq .id), \"status\": \"done\"}]}"
check_eq "  but the task does" available "$(vstatus fromvol)"

# ---- quotas, limits, zones ------------------------------------------------------------
vapi GET "/os-quota-sets/$PROJECT"
schema "GET os-quota-sets" volume quotas show_quota_set
vapi GET "/os-quota-sets/$PROJECT?usage=True"
schema "GET os-quota-sets?usage" volume quotas show_quota_set_usage
check_eq "quota usage counts 6 volumes" 6 "$(body .quota_set.volumes.in_use)"
vapi GET /limits
schema "GET /limits" volume limits show_limits
check_match "quota show lists the volume quotas" "gigabytes 1000" "$(os quota show -f value -c gigabytes 2>&1 | sed 's/^/gigabytes /')"
check "quota set --volumes 6" os quota set --volumes 6 "$PROJECT"
vapi POST /volumes '{"volume": {"size": 1}}'
fault "a 7th volume over a quota of 6" 413 overLimit
os quota set --volumes 10 "$PROJECT" >/dev/null 2>&1
vapi GET /os-availability-zone
check_eq "one availability zone, nova" "nova true" "$(body '"\(.availabilityZoneInfo[0].zoneName) \(.availabilityZoneInfo[0].zoneState.available)"')"

# ---- attachments -------------------------------------------------------------------
os flavor create --ram 64 --disk 1 --vcpus 1 tiny >/dev/null 2>&1
SRV=$(os server create --image img --flavor tiny --nic none srv1 -f value -c id 2>&1)
check_match "server create srv1" '^[0-9a-f-]{36}$' "$SRV"
report "{\"servers\": [{\"id\": \"$SRV\", \"state\": \"running\", \"power_state\": 1, \"disk_generation\": 1, \"volumes\": []}]}"
check "server add volume srv1 vol1" os server add volume srv1 vol1
check_eq "the volume is attaching" attaching "$(vstatus vol1)"
ATT=$(dq ".servers[] | select(.id == \"$SRV\") | .volumes[0]")
check_eq "the server's desired volumes have it at vdb, as the file the volume's report named" \
    "$VOL vdb file /pool/volume-$VOL.qcow2 false" \
    "$(echo "$ATT" | jq -r '"\(.volume_id) \(.device) \(.connection.type) \(.connection.path) \(.delete)"')"
AID=$(echo "$ATT" | jq -r .attachment_id)
report "{\"servers\": [{\"id\": \"$SRV\", \"state\": \"running\", \"power_state\": 1, \"disk_generation\": 1,
    \"volumes\": [{\"attachment_id\": \"$AID\", \"state\": \"attached\"}]}]}"
check_eq "the server's report makes it in-use" in-use "$(vstatus vol1)"
check_eq "volume show says where it is attached (Cinder: /dev/vdb)" "$SRV /dev/vdb" \
    "$(os volume show vol1 -f json 2>&1 | jq -r '.attachments[0] | "\(.server_id) \(.device)"')"
check_eq "server show lists it in volumes_attached" "$VOL" \
    "$(os server show srv1 -f json 2>&1 | jq -r '.volumes_attached[0].id')"
check_match "server volume list shows /dev/vdb" "/dev/vdb" \
    "$(os "${NOVA[@]}" server volume list srv1 -f value 2>&1)"
api GET "/compute/v2.1/servers/$SRV/os-volume_attachments" "" "OpenStack-API-Version: compute 2.79"
schema "os-volume_attachments list" compute v2_79.servers list_volume_attachments
api GET "/compute/v2.1/servers/$SRV/os-volume_attachments/$VOL" "" "OpenStack-API-Version: compute 2.79"
schema "os-volume_attachments show" compute v2_79.servers show_volume_attachment
api GET "/compute/v2.1/servers/$SRV" "" "OpenStack-API-Version: compute 2.79"
schema "server show with a volume" compute v2_79.servers get_server
check_eq "volume attachment list (openrc pins volume 3.60) shows it" "$AID" \
    "$(os volume attachment list -f value -c ID 2>&1)"
vapi GET "/attachments" "" "OpenStack-API-Version: volume 3.27"
check_eq "Cinder's attachment records (3.27) have it attached" "$AID attached $SRV" \
    "$(body '.attachments[0] | "\(.id) \(.status) \(.instance)"')"
api POST "/compute/v2.1/servers/$SRV/os-volume_attachments" "{\"volumeAttachment\": {\"volumeId\": \"$VOL\"}}"
fault "attaching an in-use volume" 400 badRequest
vapi DELETE "/volumes/$VOL"
fault "deleting an in-use volume" 400 badRequest
check_eq "  and it stays in-use" in-use "$(vstatus vol1)"
api POST "/compute/v2.1/servers/$SRV/os-volume_attachments" "{\"volumeAttachment\": {\"volumeId\": \"$RAW\"}}" \
    "OpenStack-API-Version: compute 2.79"
fault "attaching a volume that is still creating" 400 badRequest
check "server remove volume srv1 vol1" os server remove volume srv1 vol1
check_eq "it is detaching" detaching "$(vstatus vol1)"
check_eq "the desired attachment says delete" true \
    "$(dq ".servers[] | select(.id == \"$SRV\") | .volumes[0].delete")"
report "{\"servers\": [{\"id\": \"$SRV\", \"state\": \"running\", \"power_state\": 1, \"disk_generation\": 1, \"volumes\": []}]}"
check_eq "a report without it makes it available" available "$(vstatus vol1)"
check_eq "and the server's desired volumes are empty" "[]" "$(dq ".servers[] | select(.id == \"$SRV\") | .volumes")"

# iSCSI: a type with iscsi=true goes over a target even on the same host
IS=$(os volume create --size 1 --type fast iscsivol -f value -c id 2>&1)
available "$IS"
api POST "/compute/v2.1/servers/$SRV/os-volume_attachments" "{\"volumeAttachment\": {\"volumeId\": \"$IS\"}}" \
    "OpenStack-API-Version: compute 2.79"
schema "os-volume_attachments create" compute v2_79.servers attach_volume
EXP=$(dq ".volumes[] | select(.id == \"$IS\") | .exports[0]")
check_match "the volume's desired exports carry CHAP credentials made by the controller" \
    '"chap_user":"att-[0-9a-f]{8}","chap_secret":"[0-9a-f]{32}"' "$EXP"
check_eq "the server gets no attachment before the export is reported" "[]" \
    "$(dq ".servers[] | select(.id == \"$SRV\") | .volumes")"
IAID=$(echo "$EXP" | jq -r .attachment_id)
report "{\"volumes\": [{\"id\": \"$IS\", \"state\": \"available\", \"size\": 1,
    \"location\": {\"type\": \"file\", \"path\": \"/pool/volume-$IS.qcow2\", \"format\": \"qcow2\"},
    \"exports\": [{\"attachment_id\": \"$IAID\", \"portal\": \"127.0.0.1:3260\",
                   \"iqn\": \"iqn.2026-01.invalid.stratus:$IAID\", \"lun\": 1, \"format\": \"qcow2\"}]}]}"
check_eq "then the server's attachment is the iSCSI target with the same CHAP user and format" \
    "iscsi 127.0.0.1:3260 iqn.2026-01.invalid.stratus:$IAID $(echo "$EXP" | jq -r .chap_user) qcow2" \
    "$(dq ".servers[] | select(.id == \"$SRV\") | .volumes[0].connection | \"\(.type) \(.portal) \(.iqn) \(.chap_user) \(.format)\"" | tr -d '"')"
os server remove volume srv1 iscsivol >/dev/null 2>&1
check_eq "detaching drops the export" "[]" "$(dq ".volumes[] | select(.id == \"$IS\") | .exports")"
report "{\"servers\": [{\"id\": \"$SRV\", \"state\": \"running\", \"power_state\": 1, \"disk_generation\": 1, \"volumes\": []}]}"

# another project
os project create --domain default p2 >/dev/null 2>&1
os user create --domain default --password pw2 --project p2 u2 >/dev/null 2>&1
os role add --user u2 --project p2 member >/dev/null 2>&1
ADMIN_TOKEN=$ST_TOKEN
ST_TOKEN=$(OS_USERNAME=u2 OS_PASSWORD=pw2 OS_PROJECT_NAME=p2 os token issue -f value -c id)
P2=$(OS_USERNAME=u2 OS_PASSWORD=pw2 OS_PROJECT_NAME=p2 os token issue -f value -c project_id)
api POST "/volume/v3/$P2/volumes" '{"volume": {"size": 1, "name": "theirs"}}'
THEIRS=$(body .volume.id)
available "$THEIRS"
api POST "/compute/v2.1/servers/$SRV/os-volume_attachments" "{\"volumeAttachment\": {\"volumeId\": \"$THEIRS\"}}"
fault "attaching to a server of another project" 404 itemNotFound
api GET "/volume/v3/$P2/volumes/$VOL"
fault "showing another project's volume" 404 itemNotFound
api POST /compute/v2.1/servers "{\"server\": {\"name\": \"theirs\", \"imageRef\": \"$IMG\",
    \"flavorRef\": \"$(os flavor show tiny -f value -c id)\", \"networks\": \"none\"}}" \
    "OpenStack-API-Version: compute 2.79"
TSRV=$(body .server.id)
report "{\"servers\": [{\"id\": \"$TSRV\", \"state\": \"running\", \"power_state\": 1, \"disk_generation\": 1, \"volumes\": []}]}"
api POST "/compute/v2.1/servers/$TSRV/os-volume_attachments" "{\"volumeAttachment\": {\"volumeId\": \"$VOL\"}}"
fault "attaching another project's volume to one's own server" 404 itemNotFound
ST_TOKEN=$ADMIN_TOKEN
check_eq "both volumes stay available" "available available" \
    "$(os volume show "$THEIRS" -f value -c status 2>&1) $(vstatus vol1)"

# ---- boot from volume ------------------------------------------------------------------
S2=$(os server create --volume ivol --flavor tiny --nic none srv2 -f value -c id 2>&1)
check_match "server create --volume ivol (made from the image)" '^[0-9a-f-]{36}$' "$S2"
check_eq "  the volume is attaching at vda, boot index 0, and the server keeps the image" \
    "vda 0 $IMG" "$(dq ".servers[] | select(.id == \"$S2\") | \"\(.volumes[0].device) \(.volumes[0].boot_index) \(.image.id)\"" | tr -d '"')"
S3=$(os server create --image img --boot-from-volume 1 --flavor tiny --nic none srv3 -f value -c id 2>&1)
check_match "server create --image img --boot-from-volume 1" '^[0-9a-f-]{36}$' "$S3"
BV=$(os server show srv3 -f json 2>&1 | jq -r '.volumes_attached[0].id')
check_eq "  made a volume from the image" "image $IMG 1" \
    "$(dq ".volumes[] | select(.id == \"$BV\") | \"\(.source.type) \(.source.image.id) \(.size)\"" | tr -d '"')"
check_eq "  which is creating until its host reports it" creating "$(vstatus "$BV")"
available "$BV"
check_eq "  then attaching, at vda" "attaching vda" \
    "$(vstatus "$BV") $(dq ".servers[] | select(.id == \"$S3\") | .volumes[0].device" | tr -d '"')"
api POST /compute/v2.1/servers "{\"server\": {\"name\": \"srv4\", \"flavorRef\": \"$(os flavor show tiny -f value -c id)\",
    \"networks\": \"none\", \"block_device_mapping_v2\": [{\"boot_index\": 0, \"uuid\": \"$IMG\",
    \"source_type\": \"image\", \"destination_type\": \"volume\", \"volume_size\": 1,
    \"delete_on_termination\": true}]}}" "OpenStack-API-Version: compute 2.79"
check_eq "block_device_mapping_v2 image->volume with delete_on_termination" 202 "$CODE"
S4=$(body .server.id)
BV4=$(os server show "$S4" -f json 2>&1 | jq -r '.volumes_attached[0] | "\(.id) \(.delete_on_termination)"')
check_match "  server show: volumes_attached with delete_on_termination true" " true$" "$BV4"
BV4=${BV4% true}
available "$BV4"
os server delete "$S4" >/dev/null 2>&1
report "{\"servers\": [{\"id\": \"$S4\", \"state\": \"gone\"}]}"
check_eq "deleting the server deletes its delete_on_termination volume" "deleting true" \
    "$(vstatus "$BV4") $(dq ".volumes[] | select(.id == \"$BV4\") | .delete")"
report "{\"volumes\": [{\"id\": \"$BV4\", \"state\": \"gone\"}]}"
check_match "  gone once its host reports it gone" "No volume with a name or ID|could not be found" "$(vstatus "$BV4")"
os server delete srv3 >/dev/null 2>&1
report "{\"servers\": [{\"id\": \"$S3\", \"state\": \"gone\"}]}"
check_eq "deleting a server keeps a volume without delete_on_termination, available" available "$(vstatus "$BV")"

# ---- upload to image, delete --------------------------------------------------------------
vapi POST "/volumes/$VOL/action" '{"os-volume_upload_image": {"image_name": "fromvol", "disk_format": "qcow2"}}'
check_eq "os-volume_upload_image" 202 "$CODE"
UIMG=$(body '.["os-volume_upload_image"].image_id')
check_eq "  queues the image and a volume_upload_image task, volume uploading" "queued $UIMG qcow2 uploading" \
    "$(os image show "$UIMG" -f value -c status 2>&1) $(dq '.tasks[] | select(.kind == "volume_upload_image") | "\(.image_id) \(.disk_format)"' | tr -d '"') $(vstatus vol1)"
qemu-img create -q -f qcow2 "$ST_TMP/up.qcow2" 1G
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${HAUTH[@]}" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$ST_TMP/up.qcow2" "$ST_URL/internal/v1/images/$UIMG/file")
check_match "  the host may PUT the image data for that task" '^2' "$code"
TASK=$(dq '.tasks[] | select(.kind == "volume_upload_image") | .id')
report "{\"tasks\": [{\"id\": $TASK, \"status\": \"done\"}]}"
check_eq "  the task's end makes the volume available" available "$(vstatus vol1)"

check "volume snapshot delete snap1" os volume snapshot delete snap1
check_eq "the desired snapshot says delete" true "$(dq ".volumes[] | select(.id == \"$VOL\") | .snapshots[0].delete")"
report "{\"volumes\": [{\"id\": \"$VOL\", \"state\": \"available\", \"size\": 2,
    \"snapshots\": [{\"id\": \"$SNAP\", \"state\": \"gone\"}]}]}"
check_match "the snapshot is gone once reported gone" "No snapshot|could not be found" \
    "$(os volume snapshot show snap1 2>&1)"
check "volume delete vol1" os volume delete vol1
check_eq "it is deleting, the desired state says delete" "deleting true" \
    "$(vstatus vol1) $(dq ".volumes[] | select(.id == \"$VOL\") | .delete")"
report "{\"volumes\": [{\"id\": \"$VOL\", \"state\": \"gone\"}]}"
check_match "gone once reported gone" "No volume with a name or ID|could not be found" "$(vstatus vol1)"
check_eq "the backup outlives its volume" available "$(os volume backup show bk1 -f value -c status 2>&1)"
check_eq "the host's desired backups name it" "$BK" "$(dq '[.backups[].id] | join(",")' | tr -d '"')"
check "volume backup delete bk1" os volume backup delete bk1
check_eq "  after which they do not (the agent removes its files)" "[]" "$(dq '.backups')"

stop_stratusd
done_testing
