/*
 * stratus-manage - operator commands on a controller's data directory:
 * schema migrations, the bootstrap of the admin identity and the catalog,
 * and token key rotation.  A command table, like vmctl's, gives the usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/options.h"
#include "api/versions.h"
#include "common/util.h"
#include "compute/flavor.h"
#include "compute/host.h"
#include "identity/identity.h"
#include "identity/token.h"
#include "store/copy.h"
#include "store/store.h"
#include "api/metadata.h"
#include "common/banned.h"

struct ctx {
    struct cfg *cfg;
    const char *data_dir;
    int argc;
    char **argv;
};

struct command {
    const char *name;    /* "db sync" */
    int (*fn)(struct ctx *ctx, struct st_err *err);
    const char *args;
    const char *help;
};

static struct store *open_store(struct ctx *ctx, struct st_err *err)
{
    char *url = controller_db_url(ctx->cfg);
    struct store *st;
    if (st_mkdir_p(ctx->data_dir, 0750, err) < 0) {
        free(url);
        return NULL;
    }
    st = store_open(url, 1, err);
    free(url);
    return st;
}

static int cmd_db_sync(struct ctx *ctx, struct st_err *err)
{
    struct store *st = open_store(ctx, err);
    int n, v;
    if (!st)
        return -1;
    n = store_migrate(st, err);
    if (n >= 0 && store_schema_version(st, &v, err) == 0)
        printf("database at schema version %d (%d migration%s applied)\n", v, n,
               n == 1 ? "" : "s");
    store_close(st);
    return n < 0 ? -1 : 0;
}

static int cmd_db_version(struct ctx *ctx, struct st_err *err)
{
    struct store *st = open_store(ctx, err);
    int v, rc;
    if (!st)
        return -1;
    rc = store_schema_version(st, &v, err);
    if (rc == 0)
        printf("%d (latest %d)\n", v, store_schema_latest());
    store_close(st);
    return rc;
}

static void copied(void *arg, const char *table, int64_t rows, uint64_t digest)
{
    (void) arg;
    printf("  %-28s %8lld rows  digest %016llx  ok\n", table, (long long) rows,
           (unsigned long long) digest);
}

/* Moves an all-in-one SQLite cloud into the configured database
 * (PostgreSQL), checking every table. */
static int cmd_db_migrate_from_sqlite(struct ctx *ctx, struct st_err *err)
{
    struct store *from = NULL, *to = NULL;
    char *url = NULL;
    int n = -1;
    if (ctx->argc != 2) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "usage: db migrate-from-sqlite FILE");
        return -1;
    }
    /* SQLite would create a missing file: refuse it instead. */
    if (access(ctx->argv[1], R_OK) != 0) {
        st_err_sys(err, errno, ST_ERR_NOT_FOUND, "cannot read %s", ctx->argv[1]);
        return -1;
    }
    url = st_xasprintf("sqlite:%s", ctx->argv[1]);
    from = store_open(url, 1, err);
    if (!from)
        goto out;
    to = open_store(ctx, err);
    if (!to)
        goto out;
    if (!strcmp(store_backend(to), "sqlite")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "[database] connection is SQLite: set it to the postgresql:// target first");
        goto out;
    }
    printf("copying %s into the configured %s database:\n", ctx->argv[1], store_backend(to));
    n = store_copy(from, to, copied, NULL, err);
    if (n >= 0)
        printf("%d tables copied; row counts and contents match\n", n);
out:
    store_close(from);
    store_close(to);
    free(url);
    return n < 0 ? -1 : 0;
}

/* Single-quotes 's' for a POSIX shell. */
static void sh_quote(struct st_buf *b, const char *s)
{
    st_buf_addch(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            st_buf_adds(b, "'\\''");
        else
            st_buf_addch(b, *s);
    }
    st_buf_addch(b, '\'');
}

/* Single-quotes 's' for YAML. */
static void yaml_quote(struct st_buf *b, const char *s)
{
    st_buf_addch(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            st_buf_adds(b, "''");
        else
            st_buf_addch(b, *s);
    }
    st_buf_addch(b, '\'');
}

static int write_client_files(struct ctx *ctx, const char *url, const char *password,
                              const char *region, struct st_err *err)
{
    struct st_buf rc = ST_BUF_INIT, yaml = ST_BUF_INIT, path = ST_BUF_INIT, auth = ST_BUF_INIT;
    int ret = -1;

    st_buf_adds(&auth, url);
    while (auth.len && auth.buf[auth.len - 1] == '/')
        st_buf_truncate(&auth, auth.len - 1);
    st_buf_adds(&auth, "/identity");

    st_buf_adds(&rc, "# stratus admin credentials: source this file to use the openstack CLI\n");
    st_buf_adds(&rc, "export OS_AUTH_URL=");
    sh_quote(&rc, auth.buf);
    st_buf_adds(&rc, "\nexport OS_IDENTITY_API_VERSION=3\nexport OS_AUTH_TYPE=password\n"
                     "export OS_USERNAME=admin\nexport OS_PASSWORD=");
    sh_quote(&rc, password);
    st_buf_adds(&rc, "\nexport OS_PROJECT_NAME=admin\nexport OS_USER_DOMAIN_NAME=Default\n"
                     "export OS_PROJECT_DOMAIN_NAME=Default\nexport OS_REGION_NAME=");
    sh_quote(&rc, region);
    /* A recent compute microversion (api/versions.h): the stock CLI
     * defaults to 2.1, where `server create --nic none` and other commands
     * the README shows do not exist. */
    st_buf_adds(&rc, "\nexport OS_INTERFACE=public\nexport OS_COMPUTE_API_VERSION="
                     API_COMPUTE_CLIENT_VERSION "\n");
    /* Likewise the volume API: cinderclient asks for 3.0 otherwise, where
     * `volume attachment list` and the backups' newer fields do not exist. */
    st_buf_adds(&rc, "export OS_VOLUME_API_VERSION=" API_VOLUME_CLIENT_VERSION "\n");

    st_buf_adds(&yaml, "# stratus admin credentials for openstack CLI and SDK: "
                       "OS_CLIENT_CONFIG_FILE=this file, --os-cloud stratus\n"
                       "clouds:\n  stratus:\n    auth:\n      auth_url: ");
    yaml_quote(&yaml, auth.buf);
    st_buf_adds(&yaml, "\n      username: admin\n      password: ");
    yaml_quote(&yaml, password);
    st_buf_adds(&yaml, "\n      project_name: admin\n      user_domain_name: Default\n"
                       "      project_domain_name: Default\n    region_name: ");
    yaml_quote(&yaml, region);
    st_buf_adds(&yaml, "\n    interface: public\n    identity_api_version: 3\n"
                       "    compute_api_version: '" API_COMPUTE_CLIENT_VERSION "'\n"
                       "    volume_api_version: '" API_VOLUME_CLIENT_VERSION "'\n");

    st_buf_addf(&path, "%s/openrc", ctx->data_dir);
    if (st_write_file(path.buf, rc.buf, rc.len, 0600, err) < 0)
        goto out;
    st_buf_reset(&path);
    st_buf_addf(&path, "%s/clouds.yaml", ctx->data_dir);
    if (st_write_file(path.buf, yaml.buf, yaml.len, 0600, err) < 0)
        goto out;
    ret = 0;
out:
    st_buf_release(&rc);
    st_buf_release(&yaml);
    st_buf_release(&path);
    st_buf_release(&auth);
    return ret;
}

/* Creates (or re-keys) host 'name' and writes its secret to
 * DATA_DIR/hosts/NAME.secret, mode 0600, where its agent looks. */
static int add_host(struct ctx *ctx, struct store_conn *c, const char *name, struct st_err *err)
{
    struct st_buf secret = ST_BUF_INIT, path = ST_BUF_INIT;
    int rc = -1;
    st_buf_addf(&path, "%s/hosts", ctx->data_dir);
    if (st_mkdir_p(path.buf, 0700, err) < 0 || host_add(c, name, &secret, err) < 0)
        goto out;
    st_buf_addf(&path, "/%s.secret", name);
    st_buf_addch(&secret, '\n');
    if (st_write_file(path.buf, secret.buf, secret.len, 0600, err) < 0)
        goto out;
    printf("host %s: secret in %s\n", name, path.buf);
    rc = 0;
out:
    explicit_bzero(secret.buf, secret.len);
    st_buf_release(&secret);
    st_buf_release(&path);
    return rc;
}

/* The existing secret of a host stays valid across bootstraps: re-key only
 * when its file is missing. */
static int ensure_host(struct ctx *ctx, struct store_conn *c, const char *name,
                       struct st_err *err)
{
    struct st_buf path = ST_BUF_INIT;
    int64_t one;
    int exists;
    st_buf_addf(&path, "%s/hosts/%s.secret", ctx->data_dir, name);
    exists = access(path.buf, R_OK) == 0;
    st_buf_release(&path);
    if (exists) {
        int r = store_get_int(c, err, &one, "SELECT 1 FROM hosts WHERE name = ?",
                              STORE_ARGS(P(name)));
        if (r < 0)
            return -1;
        if (r > 0)
            return 0;
    }
    return add_host(ctx, c, name, err);
}

static int cmd_host_add(struct ctx *ctx, struct st_err *err)
{
    struct store *st;
    struct store_conn *c;
    int rc = -1;
    if (ctx->argc != 2) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "usage: host add NAME");
        return -1;
    }
    if (!(st = open_store(ctx, err)))
        return -1;
    if (store_migrate(st, err) >= 0 && (c = store_acquire(st, err))) {
        rc = add_host(ctx, c, ctx->argv[1], err);
        store_release(st, c);
    }
    store_close(st);
    return rc;
}

static int cmd_bootstrap(struct ctx *ctx, struct st_err *err)
{
    static const struct option longopts[] = {
        {"password", required_argument, NULL, 'p'},
        {"public-url", required_argument, NULL, 'u'},
        {"region", required_argument, NULL, 'r'},
        {"host", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    const char *password = NULL, *url = NULL, *region = "RegionOne";
    char host[HOST_NAME_MAX_LEN + 1] = "";
    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct identity *idn = NULL;
    char *key_dir = NULL;
    int opt, rc = -1;

    optind = 1;
    while ((opt = getopt_long(ctx->argc, ctx->argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p': password = optarg; break;
        case 'u': url = optarg; break;
        case 'r': region = optarg; break;
        case 'H':
            if (st_snprintf(host, sizeof(host), "%s", optarg) < 0) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "--host is too long");
                return -1;
            }
            break;
        default:
            st_err_set(err, ST_ERR_BAD_REQUEST, "bootstrap: unknown option");
            return -1;
        }
    }
    if (!password || !*password || !url || !*url) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "bootstrap needs --password PW and --public-url URL");
        return -1;
    }
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "--public-url must start with http:// or https://");
        return -1;
    }
    if (!(st = open_store(ctx, err)) || store_migrate(st, err) < 0)
        goto out;
    key_dir = controller_key_dir(ctx->cfg);
    if (token_keys_setup(key_dir, err) < 0)
        goto out;
    struct identity_opts o = {
        .key_dir = key_dir,
        .token_ttl = cfg_int(ctx->cfg, "token", "expiration"),
        .hash_cost = (int) cfg_int(ctx->cfg, "identity", "password_hash_cost"),
    };
    if (!(idn = identity_new(st, &o, err)) || !(c = store_acquire(st, err)))
        goto out;
    if (identity_bootstrap(idn, c, password, url, region, err) < 0)
        goto out;
    if (flavor_bootstrap(c, err) < 0)
        goto out;
    if (!host[0] && gethostname(host, sizeof(host) - 1) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read the hostname");
        goto out;
    }
    if (ensure_host(ctx, c, host, err) < 0)
        goto out;
    if (write_client_files(ctx, url, password, region, err) < 0)
        goto out;
    {
        /* DATA_DIR/metadata_secret, made when absent (api/metadata.h). */
        struct st_buf secret = ST_BUF_INIT;
        int r = metadata_secret_load(ctx->cfg, &secret, err);
        if (secret.len)
            explicit_bzero(secret.buf, secret.len);
        st_buf_release(&secret);
        if (r < 0)
            goto out;
    }
    printf("bootstrapped: user admin, project admin, domain Default, region %s\n"
           "catalog at %s; credentials in %s/openrc and %s/clouds.yaml (cloud 'stratus')\n",
           region, url, ctx->data_dir, ctx->data_dir);
    rc = 0;
out:
    if (c)
        store_release(st, c);
    identity_free(idn);
    store_close(st);
    free(key_dir);
    return rc;
}

static int cmd_token_rotate(struct ctx *ctx, struct st_err *err)
{
    char *dir = controller_key_dir(ctx->cfg);
    int rc = token_keys_rotate(dir, (int) cfg_int(ctx->cfg, "token", "max_active_keys"), err);
    if (rc == 0)
        printf("rotated the token keys in %s; send SIGHUP to stratusd to use the new key now\n",
               dir);
    free(dir);
    return rc;
}

static const struct command commands[] = {
    {"db sync", cmd_db_sync, "", "create or upgrade the database schema"},
    {"db version", cmd_db_version, "", "print the schema version"},
    {"db migrate-from-sqlite", cmd_db_migrate_from_sqlite, "FILE",
     "copy every table of the SQLite database FILE (an all-in-one cloud) into the configured "
     "[database] connection (PostgreSQL, migrated if needed, with no rows yet), checking row "
     "counts and contents of every table; nothing is written unless all match"},
    {"bootstrap", cmd_bootstrap, "--password PW --public-url URL [--region NAME] [--host NAME]",
     "create the admin identity, roles, default flavors and service catalog, and register "
     "this machine (its hostname, or NAME) as a compute host (idempotent; also migrates); "
     "write DIR/openrc, DIR/clouds.yaml and DIR/hosts/NAME.secret"},
    {"host add", cmd_host_add, "NAME",
     "register hypervisor host NAME (or give it a new secret) and write its secret to "
     "DIR/hosts/NAME.secret for its agent"},
    {"token rotate", cmd_token_rotate, "",
     "add a new token signing key, keeping [token] max_active_keys"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: stratus-manage [--data-dir DIR] [--config FILE] COMMAND [ARGS]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < ST_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args, commands[i].help);
    fprintf(f, "\nDIR defaults to /var/lib/stratus.\n");
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL, *config = NULL;
    struct st_err err = ST_ERR_INIT;
    struct ctx ctx;
    int i = 1;

    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--data-dir"))
            data_dir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--config"))
            config = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    umask(027);
    for (size_t c = 0; c < ST_ARRAY_SIZE(commands); c++) {
        const char *name = commands[c].name;
        const char *sp = strchr(name, ' ');
        int words = sp ? 2 : 1;
        if (i + words > argc)
            continue;
        if (sp ? (strncmp(argv[i], name, (size_t) (sp - name)) ||
                  strlen(argv[i]) != (size_t) (sp - name) || strcmp(argv[i + 1], sp + 1))
               : strcmp(argv[i], name))
            continue;
        ctx.cfg = controller_config(config, data_dir, NULL, &err);
        if (!ctx.cfg) {
            fprintf(stderr, "stratus-manage: %s\n", err.msg);
            return 1;
        }
        ctx.data_dir = cfg_str(ctx.cfg, "DEFAULT", "data_dir");
        /* getopt for the command's own flags sees argv[0] = the command. */
        ctx.argc = argc - (i + words - 1);
        ctx.argv = argv + (i + words - 1);
        int rc = commands[c].fn(&ctx, &err);
        if (rc < 0)
            fprintf(stderr, "stratus-manage: %s\n", err.msg);
        cfg_free(ctx.cfg);
        return rc < 0 ? 1 : 0;
    }
    usage(stderr);
    return 2;
}
