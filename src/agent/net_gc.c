/* net_gc.c - the network driver's leftovers: the links and namespaces of
 * ours (their ownership marks, net.h) that the desired state no longer
 * names, removed each pass and by net_teardown_all(). */
#include "agent/net_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dhcp.h"
#include "agent/netlink.h"
#include "agent/netns.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- leftovers ---- */

static bool desired_dhcp_ns(const struct model_desired *d, const char *name)
{
    for (size_t i = 0; i < d->nnetworks; i++)
        if (d->networks[i].dhcp && !strcmp(d->networks[i].dhcp_ns, name))
            return true;
    return false;
}

static bool desired_router_ns(const struct model_desired *d, const char *name)
{
    for (size_t i = 0; i < d->nrouters; i++)
        if (!strcmp(d->routers[i].netns, name))
            return true;
    return false;
}

static bool desired_link(const struct net_state *ns, const struct model_desired *d,
                         const struct nl_link *l)
{
    for (size_t i = 0; d && i < d->nnetworks; i++) {
        const struct model_network *n = &d->networks[i];
        if (!strcmp(n->bridge, l->name) || (n->vxlan[0] && !strcmp(n->vxlan, l->name)) ||
            (n->dhcp && !strcmp(n->dhcp->tap, l->name)))
            return true;
        if (n->type == MODEL_NET_VLAN) {
            const char *iface = net_mapped_iface(ns, n->physical_network);
            char name[NL_IFNAME_MAX];
            if (iface && st_snprintf(name, sizeof(name), "%s.%lld", iface,
                                     (long long) n->segmentation_id) >= 0 &&
                !strcmp(name, l->name))
                return true;
        }
    }
    for (size_t i = 0; d && i < d->nrouters; i++) {
        const struct model_router *r = &d->routers[i];
        if (r->has_gateway && !strcmp(r->gateway.tap, l->name))
            return true;
        for (size_t j = 0; j < r->ninterfaces; j++)
            if (!strcmp(r->interfaces[j].tap, l->name))
                return true;
    }
    return false;
}

/* True for the links that look like this driver's: bridges brq*, vxlan-*
 * devices, and VLAN uplinks and veth taps with a stratus alias.  Whose they
 * are is for net_owner_of() to say. */
static bool our_kind_of_link(const struct nl_link *l)
{
    if (l->kind == NL_KIND_BRIDGE && !strncmp(l->name, "brq", 3))
        return true;
    if (l->kind == NL_KIND_VXLAN && !strncmp(l->name, "vxlan-", 6))
        return true;
    if ((l->kind == NL_KIND_VLAN || l->kind == NL_KIND_VETH) &&
        !strncmp(l->alias, LEGACY_ALIAS, strlen(LEGACY_ALIAS)))
        return true;
    return false;
}

/* Whose namespace 'name' is (see net_claim_ns()).  One that cannot be entered
 * counts as unmarked (a file left by an interrupted creation), or, when it
 * went meanwhile (its owner removed it), as another's. */
static enum net_owner ns_owner(struct pass *p, const char *name)
{
    struct st_err e = ST_ERR_INIT;
    char alias[sizeof(((struct nl_link *) 0)->alias)] = "";
    struct nl_sock *s = nl_open(name, &e);
    if (!s && !netns_exists(name))
        return NET_OWNER_OTHER;
    if (!s || net_ns_alias(s, alias, sizeof(alias), &e) < 0)
        alias[0] = '\0';
    nl_close(s);
    return net_owner_of(alias, p->ns->alias);
}

/* Removes the namespaces named 'prefix'* that are ours and not in 'd'
 * (NULL: all of ours), with their dnsmasq ('dhcp'). */
static int remove_namespaces(struct pass *p, const struct model_desired *d, const char *prefix,
                             bool dhcp, struct st_err *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (netns_list(prefix, &names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id = names[i] + strlen(prefix);
        if (d && (dhcp ? desired_dhcp_ns(d, names[i]) : desired_router_ns(d, names[i])))
            continue;
        switch (ns_owner(p, names[i])) {
        case NET_OWNER_MINE:
            break;
        case NET_OWNER_UNMARKED:
            net_note_unmarked(p->ns, "namespace", names[i]);
            continue;
        case NET_OWNER_OTHER:
            continue;
        }
        if ((dhcp && st_is_uuid(id) && dhcp_stop(p->ns->state_dir, id, err) < 0) ||
            netns_del(names[i], err) < 0)
            rc = -1;
        else
            p->ns->stats.removed++;
    }
    netns_list_free(names, n);
    return rc;
}

/* Removes what is ours and not in 'd' (NULL: everything ours).  What
 * another host marked is not looked at; what nobody marked is left alone
 * and noted.  Keeps going after a failure and reports the first. */
int net_remove_leftovers(struct pass *p, const struct model_desired *d, struct st_err *err)
{
    char **ids = NULL;
    size_t nids = 0;
    int removed = p->ns->stats.removed, rc = 0;

    if (remove_namespaces(p, d, "qdhcp-", true, err) < 0)
        rc = -1;
    if (remove_namespaces(p, d, "qrouter-", false, err) < 0)
        rc = -1;
    /* A namespace that went took its veths' host ends with it. */
    if (p->ns->stats.removed != removed)
        net_links_forget(&p->links);
    /* dnsmasq directories without a namespace (or after a crash): they are
     * under our own state directory, so ours. */
    if (dhcp_list(p->ns->state_dir, &ids, &nids, err) < 0)
        return -1;
    for (size_t i = 0; i < nids; i++) {
        const struct model_network *net = d ? model_find_network(d, ids[i]) : NULL;
        if (net && net->dhcp)
            continue;
        if (dhcp_stop(p->ns->state_dir, ids[i], err) < 0)
            rc = -1;
    }
    dhcp_list_free(ids, nids);

    /* Links made since the cache was loaded (router legs) are desired, so
     * not missing them here loses nothing. */
    if (net_links_load(p, err) < 0)
        return -1;
    for (size_t i = 0; i < p->links.n; i++) {
        const struct nl_link *l = &p->links.v[i];
        if (!our_kind_of_link(l) || desired_link(p->ns, d, l))
            continue;
        switch (net_owner_of(l->alias, p->ns->alias)) {
        case NET_OWNER_MINE:
            break;
        case NET_OWNER_UNMARKED:
            net_note_unmarked(p->ns, "link", l->name);
            continue;
        case NET_OWNER_OTHER:
            continue;
        }
        if (nl_link_del_owned(p->host, l->name, p->ns->alias, err) < 0)
            rc = -1;
        else
            p->ns->stats.removed++;
    }
    return rc;
}
