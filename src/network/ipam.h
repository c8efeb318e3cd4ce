/*
 * ipam.h - address arithmetic for the network module: IPv4 and IPv6
 * addresses as 128-bit numbers, CIDRs, allocation pools (Neutron's rules
 * for defaults and validation), EUI-64 addresses for SLAAC subnets, and
 * MAC addresses (fa:16:3e:xx:xx:xx, as Neutron makes them).
 *
 * Pure functions: no store, no allocation except where a result is a new
 * JSON value.  The claim of an address is not here: it is a row guarded by
 * UNIQUE(subnet_id, ip_address) (network/port.c); ipam only proposes
 * candidates.
 */
#ifndef ST_NETWORK_IPAM_H
#define ST_NETWORK_IPAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef unsigned __int128 ipam_u128;

#define IPAM_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define IPAM_CIDR_STRLEN 50 /* address, '/', prefix length, NUL */

struct ipam_addr {
    int version; /* 4 or 6 */
    ipam_u128 v; /* host order; IPv4 in the low 32 bits */
};

struct ipam_cidr {
    struct ipam_addr net; /* the network address (host bits cleared) */
    int prefixlen;
};

/* Parses a bare address ("10.0.0.5", "fd00::1").  0, or -1 when it is not
 * one (no error record: callers word the message for their field). */
int ipam_addr_parse(const char *s, struct ipam_addr *a) __attribute__((warn_unused_result));
/* Canonical text of 'a' (inet_ntop). */
void ipam_addr_format(const struct ipam_addr *a, char out[IPAM_ADDR_STRLEN]);
/* -1, 0, 1 as a < b, a == b, a > b (IPv4 before IPv6). */
int ipam_addr_cmp(const struct ipam_addr *a, const struct ipam_addr *b);

/* Parses "ADDR/LEN".  Sets *host_bits when 'ADDR' has bits set below the
 * prefix (the result is the network all the same).  A bare address is not
 * a CIDR here: -1. */
int ipam_cidr_parse(const char *s, struct ipam_cidr *c, bool *host_bits)
    __attribute__((warn_unused_result));
void ipam_cidr_format(const struct ipam_cidr *c, char out[IPAM_CIDR_STRLEN]);
/* The first and last addresses of 'c'. */
struct ipam_addr ipam_cidr_first(const struct ipam_cidr *c);
struct ipam_addr ipam_cidr_last(const struct ipam_cidr *c);
bool ipam_cidr_contains(const struct ipam_cidr *c, const struct ipam_addr *a);
bool ipam_cidr_overlap(const struct ipam_cidr *a, const struct ipam_cidr *b);
/* Neutron's subnet validator: NULL when 's' is a valid subnet written as
 * its network address; otherwise a new message for "Invalid input for
 * cidr. Reason: ..." (free() it). */
char *ipam_cidr_check(const char *s);

/* The address a host on 'c' may use: inside it and, for IPv4 prefixes
 * shorter than /31, neither the network nor the broadcast address. */
bool ipam_usable(const struct ipam_cidr *c, const struct ipam_addr *a);

/* An allocation pool, first..last inclusive. */
struct ipam_pool {
    struct ipam_addr first, last;
};

/* The default pools of a subnet: every usable address but the gateway
 * ('gw' may be NULL).  Returns a new array of {"start", "end"}. */
json_t *ipam_default_pools(const struct ipam_cidr *c, const struct ipam_addr *gw);
/* Checks a request's "allocation_pools" (array of {"start", "end"}) against
 * the subnet and the gateway, as Neutron does: 400 for a malformed,
 * reversed, out-of-range or overlapping pool, 409
 * (GatewayConflictWithAllocationPools) when the gateway is inside one.
 * On success stores the parsed pools (at most 'max') in 'out'. */
int ipam_pools_parse(json_t *pools, const struct ipam_cidr *c, const struct ipam_addr *gw,
                     struct ipam_pool *out, size_t max, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));

/* The EUI-64 address of 'mac' on the /64 'c' (SLAAC). */
int ipam_eui64(const struct ipam_cidr *c, const char *mac, struct ipam_addr *out)
    __attribute__((warn_unused_result));

/* A random MAC fa:16:3e:xx:xx:xx (18 bytes with the NUL). */
void ipam_mac_random(char out[18]);
/* Checks and lower-cases a MAC written xx:xx:xx:xx:xx:xx (or with '-').
 * Refuses all-zero, broadcast and multicast addresses. */
int ipam_mac_normalize(const char *in, char out[18]) __attribute__((warn_unused_result));

#endif
