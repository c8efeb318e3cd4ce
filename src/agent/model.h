/*
 * model.h - the agent's view of its host's desired state: C structs parsed,
 * checked and bounded from the JSON of GET /internal/v1/hosts/{h}/desired
 * (docs/agent-protocol.md).  Everything the renderers (domain XML, seeds)
 * and the reconciler use comes from here; nothing downstream reads JSON.
 *
 * The agent trusts the controller only so far (STYLE §8): every id must be a
 * UUID (hex), names and strings are length-bounded, numbers range-checked,
 * MAC addresses and interface names must match their patterns, so that a
 * value from here may go into a path, an interface name or an argv only in
 * the shapes it was checked for.
 */
#ifndef ST_AGENT_MODEL_H
#define ST_AGENT_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define MODEL_ID_MAX 65    /* uuid with dashes, or 32 hex, plus NUL */
#define MODEL_NAME_MAX 256
#define MODEL_MAX_IPS 8
#define MODEL_MAX_ROUTES 16
#define MODEL_MAX_DNS 4
#define MODEL_MAX_NICS 16

enum model_power {
    MODEL_POWER_RUNNING,
    MODEL_POWER_STOPPED,
    MODEL_POWER_PAUSED,
    MODEL_POWER_SUSPENDED,
};

enum model_resize {
    MODEL_RESIZE_NONE,
    MODEL_RESIZE_RESIZING,
    MODEL_RESIZE_CONFIRMING,
    MODEL_RESIZE_REVERTING,
};

struct model_flavor {
    char id[MODEL_NAME_MAX];
    char name[MODEL_NAME_MAX];
    int vcpus;          /* 1..1024 */
    int64_t ram_mb;     /* 1.. */
    int64_t disk_gb;    /* root disk; 0 = the image's own size */
    int64_t ephemeral_gb;
    int64_t swap_mb;
    json_t *extra_specs; /* object of strings (owned reference) */
};

struct model_image {
    bool present;
    char id[MODEL_ID_MAX];
    char name[MODEL_NAME_MAX];
    char disk_format[16];   /* raw, qcow2, vmdk, vdi, vhd, vhdx, iso, aki, ari, ami */
    char container_format[16];
    int64_t size;
    char checksum[33];      /* md5 hex, "" if unknown */
    int64_t min_disk;
    json_t *properties;     /* object of strings (owned reference) */
};

struct model_ip {
    char address[46];
    int prefixlen;          /* 0..128 */
    char gateway[46];       /* "" when none */
    char cidr[50];
    char subnet_id[MODEL_ID_MAX];
    bool enable_dhcp;
    char dns[MODEL_MAX_DNS][46];
    int ndns;
    struct {
        char destination[50];
        char nexthop[46];
    } routes[MODEL_MAX_ROUTES];
    int nroutes;
};

struct model_nic {
    char port_id[MODEL_ID_MAX];
    char mac[18];           /* "fa:16:3e:12:34:56" (lower case) */
    char network_id[MODEL_ID_MAX];
    int mtu;                /* 68..65535, 0 = default */
    char vif_model[16];     /* "virtio" unless the image says otherwise */
    char bridge[16];        /* IFNAMSIZ; checked pattern */
    char tap[16];
    struct model_ip ips[MODEL_MAX_IPS];
    int nips;
};

/*
 * Block storage (docs/agent-protocol.md, "Volumes in the desired state";
 * /work VOLUMES.md).  A volume attached to a server: how this host reaches
 * it ('connection'), the guest device and whether it is the boot disk.
 * Paths are absolute and of [A-Za-z0-9/._-] without "..", IQNs of
 * [a-z0-9.:-], CHAP users of [A-Za-z0-9._-], secrets hex.
 */
#define MODEL_MAX_ATTACHMENTS 24  /* vdb..vdy */
#define MODEL_MAX_VOLUMES 4096
#define MODEL_MAX_VOL_SNAPSHOTS 512
#define MODEL_MAX_EXPORTS 16
#define MODEL_PATH_MAX 512
#define MODEL_IQN_MAX 224         /* RFC 3720: 223 bytes */
#define MODEL_CHAP_USER_MAX 32
#define MODEL_CHAP_SECRET_MAX 65

enum model_conn_type { MODEL_CONN_FILE, MODEL_CONN_BLOCK, MODEL_CONN_ISCSI };

struct model_attachment {
    char attachment_id[MODEL_ID_MAX];
    char volume_id[MODEL_ID_MAX];
    char device[8];               /* "vdb": (vd|sd|hd)[a-z] */
    int boot_index;               /* 0 = the boot disk, -1 = none */
    bool delete;                  /* detach */
    enum model_conn_type type;
    char path[MODEL_PATH_MAX];    /* file, block */
    char format[8];               /* "qcow2" or "raw"; "" = not said */
    char portal[64];              /* iscsi: "ADDR:PORT" */
    char iqn[MODEL_IQN_MAX];
    int lun;
    char chap_user[MODEL_CHAP_USER_MAX];
    char chap_secret[MODEL_CHAP_SECRET_MAX];
};

enum model_vol_source {
    MODEL_VSRC_NONE,
    MODEL_VSRC_IMAGE,
    MODEL_VSRC_SNAPSHOT,
    MODEL_VSRC_VOLUME,
    MODEL_VSRC_BACKUP,
};

struct model_vol_snapshot {
    char id[MODEL_ID_MAX];
    bool delete;
};

struct model_vol_export {
    char attachment_id[MODEL_ID_MAX];
    char chap_user[MODEL_CHAP_USER_MAX];
    char chap_secret[MODEL_CHAP_SECRET_MAX];
};

/* A volume whose backend is on this host. */
struct model_volume {
    char id[MODEL_ID_MAX];
    char backend[16];             /* "file", "lvm": [a-z0-9_] */
    int64_t size_gb;              /* 1.. */
    bool delete;
    enum model_vol_source source; /* creation only */
    struct model_image image;     /* MODEL_VSRC_IMAGE */
    char source_id[MODEL_ID_MAX]; /* snapshot, volume or backup id */
    struct model_vol_snapshot *snapshots; /* owned */
    size_t nsnapshots;
    struct model_vol_export *exports;     /* owned */
    size_t nexports;
};

/*
 * Migration between hosts (docs/agent-protocol.md "Migration"; /work
 * MIGRATION.md): what this host's role in a server's active migration must
 * do now.  File names are the agent's own instance file names
 * (^[a-z][a-z0-9._-]{0,63}$, checked), never paths; the URIs the source
 * migrates to are checked for their shape (qemu+tls|tcp://ADDR/system,
 * tcp://ADDR[:PORT]) and carry only a checked address.
 */
#define MODEL_MIG_MAX_FILES 8
#define MODEL_MIG_NAME_MAX 65
#define MODEL_MIG_XML_MAX (1u << 20)
#define MODEL_MIG_URI_MAX 128

enum model_mig_kind { MODEL_MIG_COLD, MODEL_MIG_LIVE, MODEL_MIG_EVACUATION };
enum model_mig_role { MODEL_MIG_SOURCE, MODEL_MIG_DEST };
enum model_mig_state {
    MODEL_MIGS_EXPORT,  /* cold source: shut down, upload the files */
    MODEL_MIGS_HOLD,    /* cold source: keep everything, stopped */
    MODEL_MIGS_RESTORE, /* cold source: revert: start the kept domain */
    MODEL_MIGS_IMPORT,  /* cold dest: fetch the files, define, start */
    MODEL_MIGS_PREPARE, /* live dest: disks, seed, the domain XML */
    MODEL_MIGS_MIGRATE, /* live source: virDomainMigrateToURI3 */
    MODEL_MIGS_CLEANUP, /* either: remove this host's copy */
    MODEL_MIGS_REBUILD, /* evacuation dest: an ordinary build */
    MODEL_MIGS_OTHER,   /* a state this agent does not know: nothing done */
};

struct model_mig_file {
    char name[MODEL_MIG_NAME_MAX];
    int64_t size;
    char sha256[65]; /* lower-case hex */
};

struct model_migration {
    bool present;
    char id[MODEL_ID_MAX];
    enum model_mig_kind kind;
    enum model_mig_role role;
    enum model_mig_state state;
    char state_name[24];
    char peer_host[MODEL_NAME_MAX];
    char peer_host_id[MODEL_ID_MAX];
    char peer_address[46];              /* canonical address, "" when not sent */
    bool block_migration;
    char *dest_xml;                     /* owned, or NULL */
    char dest_uri[MODEL_MIG_URI_MAX];   /* "" when not sent */
    char migrate_uri[MODEL_MIG_URI_MAX];
    bool force_complete;
    bool abort;
    struct model_mig_file files[MODEL_MIG_MAX_FILES];
    int nfiles;
};

/* Whether 'name' is a migration file name: ^[a-z][a-z0-9._-]{0,63}$. */
bool model_mig_file_name_ok(const char *name);

struct model_server {
    char id[MODEL_ID_MAX];
    char name[MODEL_NAME_MAX];
    char hostname[64];
    char project_id[MODEL_ID_MAX];
    char project_name[MODEL_NAME_MAX];
    char user_id[MODEL_ID_MAX];
    char user_name[MODEL_NAME_MAX];
    char created_at[32];
    char availability_zone[MODEL_NAME_MAX];
    int launch_index;
    struct model_flavor flavor;
    struct model_image image;
    struct model_image kernel;   /* present == false when none */
    struct model_image ramdisk;
    enum model_power power;
    int64_t power_generation;    /* bumped by each explicit power request */
    bool delete;
    int64_t disk_generation;
    bool config_drive;
    unsigned char *user_data;    /* decoded bytes, or NULL */
    size_t user_data_len;
    char key_name[MODEL_NAME_MAX];   /* "" when no key */
    char *key_data;              /* public key text, or NULL */
    char *admin_pass;            /* or NULL */
    json_t *metadata;            /* object of strings (owned reference) */
    bool rescue;
    struct model_image rescue_image, rescue_kernel, rescue_ramdisk;
    enum model_resize resize;
    struct model_flavor old_flavor; /* valid when resize != NONE */
    struct model_nic *nics;
    int nnics;
    struct model_attachment *volumes; /* owned; attached volumes */
    int nvolumes;
    struct model_migration migration; /* present == false when none */
};

enum model_task_kind {
    MODEL_TASK_REBOOT,
    MODEL_TASK_CONSOLE_LOG,
    MODEL_TASK_SNAPSHOT,
    MODEL_TASK_VOLUME_BACKUP,       /* volume_id, backup_id */
    MODEL_TASK_VOLUME_RESTORE,      /* volume_id, backup_id: into the existing volume */
    MODEL_TASK_VOLUME_UPLOAD_IMAGE, /* volume_id, image_id, disk_format */
};

struct model_task {
    char id[MODEL_ID_MAX];
    char server_id[MODEL_ID_MAX];
    enum model_task_kind kind;
    bool hard;               /* reboot */
    int timeout;             /* reboot: seconds before a soft reboot turns hard */
    int64_t length;          /* console_log: lines, -1 = all */
    char image_id[MODEL_ID_MAX]; /* snapshot target, volume_upload_image target */
    char volume_id[MODEL_ID_MAX];  /* volume tasks ("" server_id then) */
    char backup_id[MODEL_ID_MAX];
    char disk_format[8];           /* volume_upload_image: "qcow2" or "raw" */
};

/*
 * Networking (docs/agent-protocol.md, "Networking in the desired state").
 * Every interface and namespace name below is derived here from an id
 * (IFNAMSIZ is 16, so 15 characters at most), never taken from the
 * controller: bridge "brq" + network id[:11], VXLAN "vxlan-" + VNI, taps
 * "tap" + port id[:11], router and DHCP legs "qr-"/"qg-"/"ns-" + port
 * id[:11], namespaces "qdhcp-<network id>" and "qrouter-<router id>".  Ids
 * are lower-cased UUIDs; addresses went through inet_pton and are stored
 * in their canonical text form; CIDRs have no host bits set.
 */
#define MODEL_IFNAME_MAX 16       /* IFNAMSIZ */
#define MODEL_NETNS_MAX 48        /* "qrouter-" + 36 + NUL */
#define MODEL_ADDR_MAX 46         /* INET6_ADDRSTRLEN */
#define MODEL_CIDR_MAX 50         /* address "/" prefix */
#define MODEL_MAX_NETWORKS 1024
#define MODEL_MAX_PORTS 4096
#define MODEL_MAX_SECGROUPS 1024
#define MODEL_MAX_SG_RULES 4096   /* rules of one group */
#define MODEL_MAX_SG_MEMBERS 16384 /* member addresses of one group */
#define MODEL_MAX_PORT_SGS 64     /* groups of one port */
#define MODEL_MAX_PAIRS 16        /* allowed address pairs of one port */
#define MODEL_MAX_PEERS 4096      /* VXLAN peers of one network */
#define MODEL_MAX_FDB 65536       /* l2population entries of one network */
#define MODEL_MAX_SUBNETS 16      /* subnets served by one DHCP port */
#define MODEL_MAX_POOLS 16
#define MODEL_MAX_DHCP_HOSTS 16384
#define MODEL_MAX_ROUTERS 256
#define MODEL_MAX_ROUTER_IFACES 64
#define MODEL_MAX_ROUTER_ROUTES 64
#define MODEL_MAX_FIPS 1024       /* floating IPs of one router */

enum model_net_type { MODEL_NET_LOCAL, MODEL_NET_FLAT, MODEL_NET_VLAN, MODEL_NET_VXLAN };

/* An address of a port: canonical text, family and prefix length. */
struct model_fixed_ip {
    char address[MODEL_ADDR_MAX];
    int family;                   /* AF_INET or AF_INET6 */
    int prefixlen;                /* 1..32 or 1..128 */
    char subnet_id[MODEL_ID_MAX]; /* "" when not given */
};

/* A route: 'destination' a CIDR in canonical form ("0.0.0.0/0" for the
 * default route), 'nexthop' an address of the same family. */
struct model_route {
    char destination[MODEL_CIDR_MAX];
    char nexthop[MODEL_ADDR_MAX];
    int family;
};

struct model_subnet {
    char id[MODEL_ID_MAX];
    char cidr[MODEL_CIDR_MAX];    /* canonical network/prefix */
    int ip_version;               /* 4 or 6 */
    int prefixlen;
    char gateway_ip[MODEL_ADDR_MAX]; /* "" when none */
    bool enable_dhcp;
    bool isolated_metadata;       /* no router on it: DHCP routes 169.254.169.254 */
    char dns[MODEL_MAX_DNS][MODEL_ADDR_MAX];
    int ndns;
    struct model_route routes[MODEL_MAX_ROUTES];
    int nroutes;
    struct {
        char start[MODEL_ADDR_MAX];
        char end[MODEL_ADDR_MAX];
    } pools[MODEL_MAX_POOLS];
    int npools;
};

struct model_dhcp_host {
    char mac[18];
    char ip[MODEL_ADDR_MAX];
    int family;
    char hostname[64];            /* RFC 1123 labels; "" when none */
};

/* The DHCP service this host runs for a network. */
struct model_dhcp {
    char port_id[MODEL_ID_MAX];
    char mac[18];
    struct model_fixed_ip ips[MODEL_MAX_IPS];
    int nips;
    struct model_subnet *subnets; /* owned */
    size_t nsubnets;
    struct model_dhcp_host *hosts; /* owned */
    size_t nhosts;
    char tap[MODEL_IFNAME_MAX];   /* "tap" + port id[:11], on the bridge */
    char ns_if[MODEL_IFNAME_MAX]; /* "ns-" + port id[:11], in the namespace */
};

/* A MAC of a VXLAN network that lives on another host, and that host's VTEP
 * (docs/agent-protocol.md, "vxlan_fdb"). */
struct model_fdb {
    char mac[18];                 /* lower case */
    char dst[MODEL_ADDR_MAX];     /* canonical address */
};

struct model_network {
    char id[MODEL_ID_MAX];
    enum model_net_type type;
    char physical_network[64];    /* "" when null; [A-Za-z0-9_.-] */
    int64_t segmentation_id;      /* VLAN 1..4094, VNI 1..16777215; 0 = none */
    int mtu;                      /* 68..65535, 0 = leave the default */
    bool external;
    char (*vxlan_peers)[MODEL_ADDR_MAX]; /* owned; canonical addresses */
    size_t npeers;
    struct model_fdb *vxlan_fdb;  /* owned; l2population: MACs on other hosts */
    size_t nfdb;
    struct model_dhcp *dhcp;      /* owned; NULL when this host serves no DHCP */
    char bridge[MODEL_IFNAME_MAX];  /* "brq" + id[:11] */
    char vxlan[MODEL_IFNAME_MAX];   /* "vxlan-" + VNI, vxlan networks only */
    char dhcp_ns[MODEL_NETNS_MAX];  /* "qdhcp-" + id */
};

struct model_address_pair {
    char ip[MODEL_CIDR_MAX];      /* canonical address or CIDR */
    int family;
    int prefixlen;                /* 32/128 for a single address */
    char mac[18];                 /* the pair's MAC, or the port's */
};

struct model_port {
    char id[MODEL_ID_MAX];
    char network_id[MODEL_ID_MAX];
    char mac[18];
    struct model_fixed_ip ips[MODEL_MAX_IPS];
    int nips;
    bool port_security;
    char (*security_groups)[MODEL_ID_MAX]; /* owned */
    size_t nsecurity_groups;
    struct model_address_pair pairs[MODEL_MAX_PAIRS];
    int npairs;
    char tap[MODEL_IFNAME_MAX];   /* "tap" + id[:11] */
};

enum model_sg_dir { MODEL_SG_INGRESS, MODEL_SG_EGRESS };

struct model_sg_rule {
    char id[MODEL_ID_MAX];
    enum model_sg_dir direction;
    int family;                   /* AF_INET (ethertype IPv4) or AF_INET6 */
    int protocol;                 /* IANA number 0..255, -1 = any */
    int port_min, port_max;       /* tcp/udp/sctp ports, or ICMP type/code; -1 = none */
    char remote_ip_prefix[MODEL_CIDR_MAX]; /* canonical CIDR, "" = any */
    char remote_group_id[MODEL_ID_MAX];    /* "" = none */
};

struct model_secgroup {
    char id[MODEL_ID_MAX];
    bool stateful;
    struct model_sg_rule *rules;  /* owned */
    size_t nrules;
    char (*member_ips)[MODEL_ADDR_MAX]; /* owned; canonical addresses */
    int *member_family;           /* owned; AF_INET or AF_INET6 of each */
    size_t nmembers;
};

/* A leg of a router: a veth with 'ifname' in the router's namespace and
 * 'tap' on the bridge of 'network_id'. */
struct model_router_port {
    char port_id[MODEL_ID_MAX];
    char network_id[MODEL_ID_MAX];
    char mac[18];
    struct model_fixed_ip ips[MODEL_MAX_IPS];
    int nips;
    char ifname[MODEL_IFNAME_MAX]; /* "qr-" or "qg-" + port id[:11] */
    char tap[MODEL_IFNAME_MAX];    /* "tap" + port id[:11] */
};

struct model_floating_ip {
    char id[MODEL_ID_MAX];
    char floating_ip[MODEL_ADDR_MAX]; /* IPv4 */
    char fixed_ip[MODEL_ADDR_MAX];    /* IPv4 */
};

struct model_router {
    char id[MODEL_ID_MAX];
    bool has_gateway;
    struct model_router_port gateway; /* valid when has_gateway */
    char gateway_ip[MODEL_ADDR_MAX];  /* next hop of the default route, "" = none */
    bool enable_snat;
    struct model_router_port *interfaces; /* owned */
    size_t ninterfaces;
    struct model_route *routes;       /* owned */
    size_t nroutes;
    struct model_floating_ip *floating_ips; /* owned */
    size_t nfloating_ips;
    char netns[MODEL_NETNS_MAX];      /* "qrouter-" + id */
};

struct model_desired {
    char host[MODEL_NAME_MAX];
    char host_id[MODEL_ID_MAX];   /* the host record's UUID (lower case); "" when
                                     the controller sent none */
    int64_t revision;
    struct model_server *servers;
    size_t nservers;
    struct model_task *tasks;
    size_t ntasks;
    struct model_network *networks;
    size_t nnetworks;
    struct model_port *ports;
    size_t nports;
    struct model_secgroup *secgroups;
    size_t nsecgroups;
    struct model_router *routers;
    size_t nrouters;
    bool has_volumes;             /* "volumes" was sent: volumes not listed go */
    struct model_volume *volumes; /* volumes whose backend is on this host */
    size_t nvolumes;
    bool has_backups;             /* "backups" was sent: those not listed go */
    char (*backups)[MODEL_ID_MAX];
    size_t nbackups;
    char metadata_secret[128];    /* "metadata": {"shared_secret"}: the key the
                                     metadata proxy signs with; "" = none */
};

/* Parses and checks a desired-state document.  Returns a new model (free
 * with model_desired_free), or NULL with BAD_REQUEST naming the offending
 * field. */
struct model_desired *model_desired_parse(json_t *doc, struct st_err *err);
void model_desired_free(struct model_desired *d);
/* Parses one SERVER document into '*s' (zeroed by the caller); release
 * with model_server_release() whether it succeeded or not.  The metadata
 * service (src/api/metadata.c) builds its model this way too. */
int model_server_parse(json_t *o, struct model_server *s, struct st_err *err)
    __attribute__((warn_unused_result));
void model_server_release(struct model_server *s);
/* The server with 'id', or NULL. */
const struct model_server *model_find_server(const struct model_desired *d, const char *id);
/* The value of an image property or flavor extra spec, or NULL. */
const char *model_image_prop(const struct model_image *img, const char *key);
const char *model_extra_spec(const struct model_flavor *f, const char *key);

const char *model_power_name(enum model_power p);

/* The desired volume 'id', or NULL. */
const struct model_volume *model_find_volume(const struct model_desired *d, const char *id);
/* The boot volume (boot_index 0, not being detached) of 's', or NULL. */
const struct model_attachment *model_boot_volume(const struct model_server *s);
/* Whether 's' is a volume task (no server). */
bool model_task_is_volume(const struct model_task *t);

/* Lookups by id in the network lists; NULL when absent. */
const struct model_network *model_find_network(const struct model_desired *d, const char *id);
const struct model_secgroup *model_find_secgroup(const struct model_desired *d, const char *id);
const char *model_net_type_name(enum model_net_type t);

/* The id-derived names, for the network code and its tests: 'prefix'
 * followed by the first 11 characters of 'id' ("tap", "qr-", "qg-", "ns-",
 * "brq"), into 'out' (MODEL_IFNAME_MAX). */
void model_ifname(const char *prefix, const char *id, char out[MODEL_IFNAME_MAX]);

#endif
