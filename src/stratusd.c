/*
 * stratusd.c - the controller daemon: reads its configuration, opens the
 * store (refusing a schema older or newer than it knows), loads the token
 * keys, serves the API, and waits for signals: SIGTERM/SIGINT stop it
 * cleanly, SIGHUP reopens the log and reloads the token keys.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/options.h"
#include "api/server.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/util.h"
#include "identity/identity.h"
#include "compute/console.h"
#include "compute/ports.h"
#include "compute/server.h"
#include "image/image.h"
#include "network/network.h"
#include "network/neutron.h"
#include "store/revision.h"
#include "store/store.h"
#include "volume/volume.h"
#include "api/metadata.h"
#include "common/banned.h"

#define STRATUS_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stratusd [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]\n"
            "                [--log-level LEVEL] [--log-file FILE] [--pidfile FILE]\n"
            "                [--metrics-listen ADDR:PORT]\n"
            "\n"
            "The stratus controller: Keystone, Nova, Glance, Neutron and Cinder APIs on one\n"
            "listener, backed by the state store in DIR.\n"
            "\n"
            "  --data-dir DIR     data directory (default /var/lib/stratus)\n"
            "  --listen ADDR:PORT API address (default 127.0.0.1:5000)\n"
            "  --config FILE      INI configuration; flags override it\n"
            "  --log-level LEVEL  debug, info, warning or error (default info)\n"
            "  --log-file FILE    append the log to FILE (default standard error)\n"
            "  --pidfile FILE     write the daemon's pid to FILE\n"
            "  --metrics-listen ADDR:PORT\n"
            "                     serve Prometheus metrics (GET /metrics) there, apart from\n"
            "                     the API; keep it on loopback ([metrics] listen)\n"
            "  --help-config      print every configuration option with its default\n"
            "  --version          print the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop it; SIGHUP reopens the log file and reloads\n"
            "the token keys.\n");
}

static int drop_privileges(const char *user, struct st_err *err)
{
    struct passwd *pw;
    if (!user || !*user || geteuid() != 0)
        return 0;
    pw = getpwnam(user);
    if (!pw) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "user '%s' does not exist", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot switch to user '%s'", user);
        return -1;
    }
    if (setuid(0) == 0) {
        st_err_set(err, ST_ERR_INTERNAL, "privileges were not dropped");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"listen", required_argument, NULL, 'l'},
        {"config", required_argument, NULL, 'c'},   {"log-level", required_argument, NULL, 'L'},
        {"log-file", required_argument, NULL, 'F'}, {"pidfile", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},           {"help-config", no_argument, NULL, 'H'},
        {"version", no_argument, NULL, 'V'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *listen = NULL, *config = NULL, *level = NULL, *logfile = NULL;
    const char *pidfile = NULL, *metrics_listen = NULL;
    struct st_err err = ST_ERR_INIT;
    struct cfg *cfg = NULL;
    struct store *store = NULL;
    struct identity *idn = NULL;
    struct api_server *srv = NULL;
    struct api_metrics *metrics = NULL;
    struct mx_http *mxh = NULL;
    char *db_url = NULL, *key_dir = NULL;
    struct st_buf image_dir = ST_BUF_INIT;
    struct st_buf md_secret = ST_BUF_INIT;
    enum log_level lvl;
    sigset_t sigs;
    int opt, current, rc = 1;

    while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': data_dir = optarg; break;
        case 'l': listen = optarg; break;
        case 'c': config = optarg; break;
        case 'L': level = optarg; break;
        case 'F': logfile = optarg; break;
        case 'p': pidfile = optarg; break;
        case 'M': metrics_listen = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("stratusd %s\n", STRATUS_VERSION); return 0;
        case 'H': {
            struct st_buf b = ST_BUF_INIT;
            cfg_print_sample(controller_opts, controller_opts_count,
                             "stratusd.conf - configuration of the stratus controller (stratusd "
                             "and stratus-manage).",
                             &b);
            fputs(b.buf, stdout);
            st_buf_release(&b);
            return 0;
        }
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    cfg = controller_config(config, data_dir, listen, &err);
    if (!cfg)
        goto fail;
    if ((level && cfg_set(cfg, "DEFAULT", "log_level", level, &err) < 0) ||
        (logfile && cfg_set(cfg, "DEFAULT", "log_file", logfile, &err) < 0) ||
        (metrics_listen && cfg_set(cfg, "metrics", "listen", metrics_listen, &err) < 0))
        goto fail;
    if (log_level_parse(cfg_str(cfg, "DEFAULT", "log_level"), &lvl) < 0) {
        st_err_set(&err, ST_ERR_BAD_REQUEST, "invalid log level '%s'",
                   cfg_str(cfg, "DEFAULT", "log_level"));
        goto fail;
    }
    if (drop_privileges(cfg_str(cfg, "DEFAULT", "user"), &err) < 0 ||
        log_open(lvl, cfg_str(cfg, "DEFAULT", "log_file"), &err) < 0)
        goto fail;
    if (geteuid() == 0)
        log_warnx("main", "running as root; set [DEFAULT] user to drop privileges");

    /* Block the signals in every thread; main waits for them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    db_url = controller_db_url(cfg);
    store = store_open(db_url, (int) cfg_int(cfg, "database", "pool_size"), &err);
    if (!store || store_schema_version(store, &current, &err) < 0)
        goto fail;
    if (current != store_schema_latest()) {
        st_err_set(&err, ST_ERR_INTERNAL,
                   "the database '%s' is at schema version %d but this stratusd needs %d: run "
                   "'stratus-manage --data-dir %s db sync'",
                   db_url, current, store_schema_latest(), cfg_str(cfg, "DEFAULT", "data_dir"));
        goto fail;
    }
    /* PostgreSQL: revision bumps made through another controller wake this
     * one's long-polls (LISTEN/NOTIFY; nothing on SQLite). */
    if (store_watch(store, REVISION_CHANNEL, revision_notify, &err) < 0)
        goto fail;
    key_dir = controller_key_dir(cfg);
    struct identity_opts iopts = {
        .key_dir = key_dir,
        .token_ttl = cfg_int(cfg, "token", "expiration"),
        .hash_cost = (int) cfg_int(cfg, "identity", "password_hash_cost"),
    };
    idn = identity_new(store, &iopts, &err);
    if (!idn)
        goto fail;

    st_buf_addf(&image_dir, "%s/images", cfg_str(cfg, "DEFAULT", "data_dir"));
    struct image_files images = {
        .dir = image_dir.buf,
        .max_size = (uint64_t) cfg_int(cfg, "image", "max_size"),
    };
    {
        struct store_conn *c = store_acquire(store, &err);
        int r = c ? image_recover(c, &images, &err) : -1;
        /* No console relay outlives the process that ran it. */
        if (r == 0)
            r = console_sessions_reset(c, &err);
        store_release(store, c);
        if (r < 0)
            goto fail;
    }
    struct compute_conf compute;
    if (controller_compute_conf(cfg, &compute, &err) < 0 || net_configure(cfg, &err) < 0)
        goto fail;
    /* Compute reaches servers' ports only through this provider (compute/ports.h). */
    compute_ports_register(&net_compute_ports);
    /* ... and volumes only through this one (compute/volumes.h). */
    {
        struct vol_conf vc = {compute.service_down_time, compute.default_az};
        vol_configure(&vc);
        compute_volumes_register(&vol_compute_volumes);
    }
    struct app app = {
        .compute = &compute,
        .cfg = cfg,
        .images = &images,
        .store = store,
        .identity = idn,
        .data_dir = cfg_str(cfg, "DEFAULT", "data_dir"),
        .public_url = cfg_str(cfg, "DEFAULT", "public_url"),
        .max_body = (size_t) cfg_int(cfg, "api", "max_body_size"),
    };
    if (metadata_secret_load(cfg, &md_secret, &err) < 0)
        goto fail;
    app.metadata_secret = md_secret.buf;
    metrics = api_metrics_new();
    app.metrics = metrics;
    srv = api_server_start(&app, cfg_str(cfg, "DEFAULT", "listen"),
                           (unsigned) cfg_int(cfg, "api", "max_connections"), &err);
    if (!srv)
        goto fail;
    if (*cfg_str(cfg, "metrics", "listen")) {
        mxh = mx_http_start(cfg_str(cfg, "metrics", "listen"), api_metrics_scrape, &app, &err);
        if (!mxh)
            goto fail;
        log_info("main", "metrics on %s (port %u)", cfg_str(cfg, "metrics", "listen"),
                 (unsigned) mx_http_port(mxh));
    }
    if (pidfile) {
        struct st_buf b = ST_BUF_INIT;
        st_buf_addf(&b, "%d\n", (int) getpid());
        if (st_write_file(pidfile, b.buf, b.len, 0644, &err) < 0) {
            st_buf_release(&b);
            goto fail;
        }
        st_buf_release(&b);
    }
    log_info("main", "stratusd %s listening on %s (port %u), data in %s", STRATUS_VERSION,
             cfg_str(cfg, "DEFAULT", "listen"), (unsigned) api_server_port(srv), app.data_dir);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            struct st_err e = ST_ERR_INIT;
            log_reopen();
            if (identity_reload_keys(idn, &e) < 0)
                log_warnx("main", "token keys not reloaded: %s", e.msg);
            else
                log_info("main", "reopened the log and reloaded the token keys");
            continue;
        }
        log_info("main", "signal %d: stopping", sig);
        break;
    }
    rc = 0;
    goto out;
fail:
    log_errorx("main", "%s", err.msg);
out:
    mx_http_stop(mxh);
    api_server_stop(srv);
    api_metrics_free(metrics);
    identity_free(idn);
    store_close(store);
    if (pidfile && rc == 0)
        unlink(pidfile);
    free(db_url);
    free(key_dir);
    st_buf_release(&image_dir);
    if (md_secret.len)
        explicit_bzero(md_secret.buf, md_secret.len);
    st_buf_release(&md_secret);
    cfg_free(cfg);
    log_close();
    return rc;
}
