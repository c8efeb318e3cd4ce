/* model_migration.c - the "migration" member of a SERVER (see model.h and
 * docs/agent-protocol.md "Migration"): checked and bounded like the rest
 * of the desired state, so that a file name may go into a path under the
 * instance directory and a URI into libvirt's migration parameters. */
#include "agent/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agent/model_internal.h"
#include "common/util.h"
#include "common/banned.h"

bool model_mig_file_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    /* "." and ".." cannot match (a letter first), nor can a ".part" of
     * ours be confused: the agent never names a file so. */
    return true;
}

static bool addr_ok(const char *s, size_t len, char *canon, size_t n)
{
    unsigned char bin[16];
    char a[64];
    int fam = AF_INET;
    if (len == 0 || len >= sizeof(a))
        return false;
    memcpy(a, s, len);
    a[len] = '\0';
    if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
        memmove(a, a + 1, len - 2);
        a[len - 2] = '\0';
        fam = AF_INET6;
    }
    if (inet_pton(fam, a, bin) != 1) {
        if (fam == AF_INET6 || inet_pton(AF_INET6, a, bin) != 1)
            return false;
        fam = AF_INET6; /* a bare IPv6 address (peer.address) */
    }
    return !canon || inet_ntop(fam, bin, canon, (socklen_t) n) != NULL;
}

/* "SCHEME://ADDR" + 'tail' (tail "" or "/system"), ADDR an IPv4 address
 * or a bracketed IPv6 one, optionally ":PORT" when 'port_ok'. */
static bool uri_ok(const char *u, const char *const *schemes, bool port_ok, const char *tail)
{
    const char *p = NULL, *end, *host_end;
    for (size_t i = 0; schemes[i] && !p; i++) {
        size_t n = strlen(schemes[i]);
        if (!strncmp(u, schemes[i], n) && !strncmp(u + n, "://", 3))
            p = u + n + 3;
    }
    if (!p)
        return false;
    end = p + strlen(p);
    if (tail[0]) {
        size_t tl = strlen(tail);
        if ((size_t) (end - p) < tl || strcmp(end - tl, tail))
            return false;
        end -= tl;
    }
    host_end = end;
    if (port_ok) {
        const char *colon = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == ':')
                colon = q;
        if (colon && (p[0] != '[' || colon > strchr(p, ']'))) {
            if (colon + 1 == end || end - colon > 6)
                return false;
            for (const char *q = colon + 1; q < end; q++)
                if (!isdigit((unsigned char) *q))
                    return false;
            host_end = colon;
        }
    }
    return addr_ok(p, (size_t) (host_end - p), NULL, 0);
}

static const struct {
    const char *name;
    enum model_mig_state state;
} mig_states[] = {
    {"export", MODEL_MIGS_EXPORT},   {"hold", MODEL_MIGS_HOLD},
    {"restore", MODEL_MIGS_RESTORE}, {"import", MODEL_MIGS_IMPORT},
    {"prepare", MODEL_MIGS_PREPARE}, {"migrate", MODEL_MIGS_MIGRATE},
    {"cleanup", MODEL_MIGS_CLEANUP}, {"rebuild", MODEL_MIGS_REBUILD},
};

static int parse_files(json_t *o, struct model_migration *m, struct st_err *err)
{
    json_t *v = json_object_get(o, "files"), *f;
    size_t i;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > MODEL_MIG_MAX_FILES)
        return model_bad(err, "migration.files", "not an array of at most 8 files");
    json_array_foreach(v, i, f)
    {
        struct model_mig_file *mf = &m->files[m->nfiles];
        if (!json_is_object(f) ||
            model_copy_str(f, "name", true, mf->name, sizeof(mf->name), err) < 0 ||
            model_copy_str(f, "sha256", true, mf->sha256, sizeof(mf->sha256), err) < 0 ||
            model_get_int(f, "size", false, 0, INT64_MAX, &mf->size, err) < 0)
            return err->msg[0] ? -1 : model_bad(err, "migration.files", "not an object");
        if (!model_mig_file_name_ok(mf->name))
            return model_bad(err, "migration.files.name", mf->name);
        model_lower(mf->sha256);
        if (strlen(mf->sha256) != 64 || strspn(mf->sha256, "0123456789abcdef") != 64)
            return model_bad(err, "migration.files.sha256", "not 64 hex digits");
        for (int k = 0; k < m->nfiles; k++)
            if (!strcmp(m->files[k].name, mf->name))
                return model_bad(err, "migration.files", "duplicate name");
        m->nfiles++;
    }
    return 0;
}

int model_parse_migration(json_t *o, struct model_migration *m, struct st_err *err)
{
    static const char *const tls_schemes[] = {"qemu+tls", "qemu+tcp", NULL};
    static const char *const mig_schemes[] = {"tcp", NULL};
    const char *kind, *role;
    json_t *peer, *x;

    memset(m, 0, sizeof(*m));
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return model_bad(err, "migration", "not an object");
    if (model_copy_id(o, "id", true, m->id, err) < 0 ||
        model_copy_str(o, "state", true, m->state_name, sizeof(m->state_name), err) < 0)
        return -1;
    model_lower(m->id);
    kind = json_string_value(json_object_get(o, "kind"));
    role = json_string_value(json_object_get(o, "role"));
    if (st_streq(kind, "cold"))
        m->kind = MODEL_MIG_COLD;
    else if (st_streq(kind, "live"))
        m->kind = MODEL_MIG_LIVE;
    else if (st_streq(kind, "evacuation"))
        m->kind = MODEL_MIG_EVACUATION;
    else
        return model_bad(err, "migration.kind", kind);
    if (st_streq(role, "source"))
        m->role = MODEL_MIG_SOURCE;
    else if (st_streq(role, "dest"))
        m->role = MODEL_MIG_DEST;
    else
        return model_bad(err, "migration.role", role);
    m->state = MODEL_MIGS_OTHER;
    for (size_t i = 0; i < ST_ARRAY_SIZE(mig_states); i++)
        if (!strcmp(m->state_name, mig_states[i].name))
            m->state = mig_states[i].state;
    peer = json_object_get(o, "peer");
    if (peer && !json_is_null(peer)) {
        char addr[46];
        if (!json_is_object(peer) ||
            model_copy_str(peer, "host", false, m->peer_host, sizeof(m->peer_host), err) < 0 ||
            model_copy_id(peer, "host_id", false, m->peer_host_id, err) < 0 ||
            model_copy_str(peer, "address", false, addr, sizeof(addr), err) < 0)
            return err->msg[0] ? -1 : model_bad(err, "migration.peer", "not an object");
        if (addr[0] && !addr_ok(addr, strlen(addr), m->peer_address, sizeof(m->peer_address)))
            return model_bad(err, "migration.peer.address", addr);
        model_lower(m->peer_host_id);
    }
    m->block_migration = !json_is_false(json_object_get(o, "block_migration"));
    m->force_complete = json_is_true(json_object_get(o, "force_complete"));
    m->abort = json_is_true(json_object_get(o, "abort"));
    if (model_copy_str(o, "dest_uri", false, m->dest_uri, sizeof(m->dest_uri), err) < 0 ||
        model_copy_str(o, "migrate_uri", false, m->migrate_uri, sizeof(m->migrate_uri), err) < 0)
        return -1;
    if (m->dest_uri[0] && !uri_ok(m->dest_uri, tls_schemes, false, "/system"))
        return model_bad(err, "migration.dest_uri", m->dest_uri);
    if (m->migrate_uri[0] && !uri_ok(m->migrate_uri, mig_schemes, true, ""))
        return model_bad(err, "migration.migrate_uri", m->migrate_uri);
    x = json_object_get(o, "dest_xml");
    if (x && !json_is_null(x)) {
        if (!json_is_string(x) || json_string_length(x) >= MODEL_MIG_XML_MAX ||
            strlen(json_string_value(x)) != json_string_length(x))
            return model_bad(err, "migration.dest_xml", "not a string under 1 MiB");
        m->dest_xml = st_xstrdup(json_string_value(x));
    }
    if (parse_files(o, m, err) < 0)
        return -1;
    m->present = true;
    return 0;
}

void model_migration_release(struct model_migration *m)
{
    free(m->dest_xml);
    m->dest_xml = NULL;
}
