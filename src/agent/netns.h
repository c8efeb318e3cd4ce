/*
 * netns.h - named network namespaces, compatible with iproute2's
 * `ip netns`: a namespace NAME is a bind mount of a network namespace on
 * the file /run/netns/NAME, and /run/netns is a shared mount point so that
 * the binding propagates to other mount namespaces.  Used by the network
 * driver (net.c) for the DHCP (qdhcp-<network id>) and router
 * (qrouter-<router id>) namespaces, and by netlink.c and nft.c to work
 * inside one.
 *
 * Entering a namespace.  A process's threads can each be in a different
 * network namespace (setns(CLONE_NEWNET) changes only the calling thread,
 * and is allowed in a multi-threaded process, unlike CLONE_NEWNS).  So
 * netns_call() runs a function in a new, short-lived thread that enters
 * the namespace, and the thread ends with the call: no other code ever
 * runs in the wrong namespace, and the agent's own threads (libvirt
 * events, the heartbeat) are never moved.  A forked child would do the
 * same job but may only call async-signal-safe functions in a
 * multi-threaded parent (libnftables and malloc are not), and would have
 * to send its results back through a pipe; a thread shares memory.
 * Sockets keep the namespace they were created in, so a netlink socket
 * opened in such a thread keeps working on that namespace from any thread
 * (netlink.c relies on this).  Programs (dnsmasq) are run in a namespace by
 * the spawn module (cmd_set_netns): the child enters it before execve.
 *
 * Names are checked here only for being a plain file name; the id-derived
 * patterns are the callers' business (model_net.c derives them).
 */
#ifndef ST_AGENT_NETNS_H
#define ST_AGENT_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/spawn.h"

#define NETNS_RUN_DIR "/run/netns"
#define NETNS_NAME_MAX 64

/* True if 'name' may name a namespace: 1..63 of [A-Za-z0-9_.-], not "."
 * or "..". */
bool netns_name_ok(const char *name);

/* Creates namespace 'name' (a new network namespace bound on
 * /run/netns/NAME; /run/netns made a shared mount point first, as
 * iproute2 does).  One that exists already is success; a stale empty file
 * left by an interrupted creation is reused. */
int netns_add(const char *name, struct st_err *err) __attribute__((warn_unused_result));

/* Removes namespace 'name' (lazy unmount and unlink); absent is success.
 * The namespace itself ends when nothing uses it any more: processes
 * running in it (dnsmasq) keep it, so stop them first. */
int netns_del(const char *name, struct st_err *err) __attribute__((warn_unused_result));

/* True if /run/netns/NAME is a namespace binding. */
bool netns_exists(const char *name);

/* The names under /run/netns that start with 'prefix' (NULL: all), sorted,
 * into '*names' (a new array of new strings; netns_list_free()). */
int netns_list(const char *prefix, char ***names, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));
void netns_list_free(char **names, size_t n);

/* Runs fn(arg, err) in a new thread inside namespace 'name' (NULL: the
 * caller's namespace, still in a new thread) and returns its result.  If
 * the namespace cannot be entered, fn does not run and -1 is returned
 * with 'err' set. */
int netns_call(const char *name, int (*fn)(void *arg, struct st_err *err), void *arg,
               struct st_err *err) __attribute__((warn_unused_result));

/* Runs 'cmd' inside namespace 'name' (cmd_set_netns + cmd_run): same
 * contract as cmd_run(). */
int netns_exec(const char *name, struct st_cmd *cmd, struct st_buf *out, struct st_buf *errbuf,
               struct st_err *err) __attribute__((warn_unused_result));

/* Sets sysctl 'key' (dotted, e.g. "net.ipv4.ip_forward") to 'value' inside
 * namespace 'name' (NULL: the caller's), when it differs.  Only keys under
 * "net." are accepted: the others are not per namespace. */
int netns_sysctl_set(const char *name, const char *key, const char *value, struct st_err *err)
    __attribute__((warn_unused_result));
/* Reads it into 'out' (trailing newline removed). */
int netns_sysctl_get(const char *name, const char *key, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));

#endif
