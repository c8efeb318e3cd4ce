/*
 * dhcp.h - the DHCP server of a network: one dnsmasq per network in
 * namespace qdhcp-<network id> (ARCHITECTURE §5), listening on the
 * namespace end (ns-<port>) of the DHCP port's veth.
 *
 * Files (pure renderings of the model, golden-tested:
 * tests/data/dhcp/<case>.json -> <case>.conf, .hosts, .opts), kept in
 * STATE_DIR/dhcp/<network id>/:
 *   conf   the configuration: DNS off (port=0), no /etc/hosts or
 *          resolv.conf, bound to the ns- interface only, a "static"
 *          dhcp-range per DHCP-enabled subnet (no dynamic addresses), the
 *          network's MTU as option 26, leases in memory only;
 *   hosts  dhcp-hostsfile: one "MAC,IP,hostname" line per host entry;
 *   opts   dhcp-optsfile: per subnet (tag subnet-<id>) the router, DNS
 *          servers and classless static routes (options 121 and 249,
 *          with the default route added, since clients that take 121
 *          ignore option 3); on a subnet without a router
 *          ("isolated_metadata") also 169.254.169.254/32 via the DHCP
 *          port, whose namespace runs the metadata proxy.
 *   pid    dnsmasq's pidfile.
 *
 * dnsmasq daemonises itself after binding, and reports a startup failure
 * through its exit status, so it is started with cmd_run() in the
 * namespace and outlives the agent (reparented to init, never a zombie of
 * ours).  A change of conf restarts it; a change of hosts or opts only
 * sends SIGHUP, which makes dnsmasq re-read both.  A dnsmasq that died is
 * started again at the next pass, and so is one left running in a former
 * namespace of that name (deleted and made again).  The files are world-readable (dnsmasq
 * drops its privileges before re-reading them) and hold no secret.
 */
#ifndef ST_AGENT_DHCP_H
#define ST_AGENT_DHCP_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* The rendered files of one network. */
struct dhcp_files {
    struct st_buf conf;
    struct st_buf hosts;
    struct st_buf opts;
};

void dhcp_files_init(struct dhcp_files *f);
void dhcp_files_release(struct dhcp_files *f);

/* Renders the files of network 'n' (n->dhcp must not be NULL), naming
 * 'dir' as their directory inside conf.  Pure. */
void dhcp_render(const struct model_network *n, const char *dir, struct dhcp_files *out);

/* What dhcp_ensure() did. */
enum dhcp_action { DHCP_NOTHING, DHCP_STARTED, DHCP_RESTARTED, DHCP_RELOADED };

/* Makes the dnsmasq of 'n' run with the current files, under 'state_dir'
 * (STATE_DIR/dhcp/<id>/ is created), in namespace n->dhcp_ns, which must
 * exist with the ns- interface up and addressed.  'dnsmasq' is the program
 * (NULL: "dnsmasq" from PATH).  '*action' (may be NULL) says what was
 * done. */
int dhcp_ensure(const struct model_network *n, const char *state_dir, const char *dnsmasq,
                enum dhcp_action *action, struct st_err *err) __attribute__((warn_unused_result));

/* The pid of the dnsmasq of network 'network_id' if it runs (its pidfile
 * names a live dnsmasq started with our conf), else 0. */
pid_t dhcp_running(const char *state_dir, const char *network_id);

/* Stops that dnsmasq (SIGTERM, then SIGKILL after a second) and removes
 * its directory.  Nothing running and no directory is success. */
int dhcp_stop(const char *state_dir, const char *network_id, struct st_err *err)
    __attribute__((warn_unused_result));

/* The network ids that have a directory under STATE_DIR/dhcp (sorted; a
 * new array of new strings, free with dhcp_list_free()). */
int dhcp_list(const char *state_dir, char ***ids, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));
void dhcp_list_free(char **ids, size_t n);

#endif
