/* netns.c - iproute2-compatible named network namespaces (see netns.h). */
#include "agent/netns.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/util.h"
#include "common/banned.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

bool netns_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= NETNS_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p))
            return false;
    return true;
}

static int ns_path(const char *name, char *out, size_t size, struct st_err *err)
{
    if (!netns_name_ok(name)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid network namespace name '%s'",
                   name ? name : "(null)");
        return -1;
    }
    if (st_snprintf(out, size, "%s/%s", NETNS_RUN_DIR, name) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "namespace path too long");
        return -1;
    }
    return 0;
}

bool netns_exists(const char *name)
{
    char path[256];
    struct statfs sf;
    if (ns_path(name, path, sizeof(path), NULL) < 0)
        return false;
    return statfs(path, &sf) == 0 && (unsigned long) sf.f_type == NSFS_MAGIC;
}

/* Makes /run/netns a shared mount point, as `ip netns add` does: bind it
 * on itself when it is not a mount point yet (EINVAL), then retry. */
static int share_run_dir(struct st_err *err)
{
    if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create %s", NETNS_RUN_DIR);
        return -1;
    }
    for (int tries = 0; tries < 2; tries++) {
        if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
            return 0;
        if (errno != EINVAL || tries) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot make %s a shared mount",
                       NETNS_RUN_DIR);
            return -1;
        }
        if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot bind-mount %s", NETNS_RUN_DIR);
            return -1;
        }
    }
    return 0;
}

struct thread_call {
    const char *path;    /* namespace to enter, NULL: none */
    bool create;         /* unshare a new namespace and bind it on 'path' */
    int (*fn)(void *, struct st_err *);
    void *arg;
    struct st_err err;
    int rc;
};

static void *thread_main(void *opaque)
{
    struct thread_call *c = opaque;
    c->rc = -1;
    if (c->create) {
        /* /proc/thread-self, not /proc/self: the latter is the main
         * thread's namespace. */
        if (unshare(CLONE_NEWNET) < 0) {
            st_err_sys(&c->err, errno, ST_ERR_INTERNAL, "cannot create a network namespace");
            return NULL;
        }
        if (mount("/proc/thread-self/ns/net", c->path, "none", MS_BIND, NULL) < 0) {
            st_err_sys(&c->err, errno, ST_ERR_INTERNAL, "cannot bind the namespace on '%s'",
                       c->path);
            return NULL;
        }
        c->rc = 0;
        return NULL;
    }
    if (c->path) {
        int fd = open(c->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            st_err_sys(&c->err, errno, ST_ERR_NOT_FOUND, "cannot open network namespace '%s'",
                       c->path);
            return NULL;
        }
        if (setns(fd, CLONE_NEWNET) < 0) {
            st_err_sys(&c->err, errno, ST_ERR_INTERNAL, "cannot enter network namespace '%s'",
                       c->path);
            close(fd);
            return NULL;
        }
        close(fd);
    }
    c->rc = c->fn(c->arg, &c->err);
    return NULL;
}

static int run_thread(struct thread_call *c, struct st_err *err)
{
    pthread_t t;
    int e;
    st_err_clear(&c->err);
    e = pthread_create(&t, NULL, thread_main, c);
    if (e) {
        st_err_sys(err, e, ST_ERR_INTERNAL, "cannot start a namespace thread");
        return -1;
    }
    pthread_join(t, NULL);
    if (c->rc < 0) {
        if (st_err_is_set(&c->err)) {
            if (err && !st_err_is_set(err))
                *err = c->err;
        } else {
            st_err_set(err, ST_ERR_INTERNAL, "namespace call failed");
        }
        return -1;
    }
    return c->rc;
}

int netns_call(const char *name, int (*fn)(void *arg, struct st_err *err), void *arg,
               struct st_err *err)
{
    char path[256];
    struct thread_call c = {.fn = fn, .arg = arg};
    if (name) {
        if (ns_path(name, path, sizeof(path), err) < 0)
            return -1;
        c.path = path;
    }
    return run_thread(&c, err);
}

int netns_add(const char *name, struct st_err *err)
{
    char path[256];
    struct thread_call c = {0};
    int fd;
    if (ns_path(name, path, sizeof(path), err) < 0)
        return -1;
    if (netns_exists(name))
        return 0;
    if (share_run_dir(err) < 0)
        return -1;
    /* The mount point: an empty file.  One left by an interrupted
     * creation (EEXIST but not a namespace) is reused. */
    fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0);
    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create '%s'", path);
        return -1;
    }
    close(fd);
    c.path = path;
    c.create = true;
    if (run_thread(&c, err) < 0) {
        (void) unlink(path);
        return -1;
    }
    return 0;
}

int netns_del(const char *name, struct st_err *err)
{
    char path[256];
    if (ns_path(name, path, sizeof(path), err) < 0)
        return -1;
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot unmount '%s'", path);
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove '%s'", path);
        return -1;
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int netns_list(const char *prefix, char ***names, size_t *n, struct st_err *err)
{
    DIR *d = opendir(NETNS_RUN_DIR);
    struct dirent *de;
    size_t alloc = 0;
    *names = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot list %s", NETNS_RUN_DIR);
        return -1;
    }
    while ((de = readdir(d))) {
        if (!netns_name_ok(de->d_name))
            continue;
        if (prefix && strncmp(de->d_name, prefix, strlen(prefix)))
            continue;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            *names = st_xrealloc(*names, alloc * sizeof(**names));
        }
        (*names)[(*n)++] = st_xstrdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(**names), cmp_names);
    return 0;
}

void netns_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int netns_exec(const char *name, struct st_cmd *cmd, struct st_buf *out, struct st_buf *errbuf,
               struct st_err *err)
{
    char path[256];
    if (ns_path(name, path, sizeof(path), err) < 0)
        return -1;
    cmd_set_netns(cmd, path);
    return cmd_run(cmd, out, errbuf, NULL, err);
}

/* "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward"; a key with a
 * slash is a path already ("net/ipv6/conf/eth1.100/disable_ipv6", for
 * interface names with dots). */
static int sysctl_path(const char *key, char *out, size_t size, struct st_err *err)
{
    size_t n = strlen(key);
    bool slashes = strchr(key, '/') != NULL;
    if (strncmp(key, slashes ? "net/" : "net.", 4) || n > 200 || strstr(key, "..")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid sysctl key '%s'", key);
        return -1;
    }
    for (const char *p = key; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("_.-/", *p)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "invalid sysctl key '%s'", key);
            return -1;
        }
    if (st_snprintf(out, size, "/proc/sys/%s", key) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid sysctl key '%s'", key);
        return -1;
    }
    if (!slashes)
        for (char *p = out + strlen("/proc/sys/"); *p; p++)
            if (*p == '.')
                *p = '/';
    return 0;
}

struct sysctl_call {
    char path[256];
    const char *value;   /* NULL: read */
    struct st_buf *out;
};

static int sysctl_fn(void *opaque, struct st_err *err)
{
    struct sysctl_call *c = opaque;
    struct st_buf cur = ST_BUF_INIT;
    int rc = -1, fd;
    if (st_read_file(c->path, 4096, &cur, err) < 0)
        goto out;
    while (cur.len && (cur.buf[cur.len - 1] == '\n' || cur.buf[cur.len - 1] == ' '))
        st_buf_truncate(&cur, cur.len - 1);
    if (!c->value) {
        st_buf_add(c->out, cur.buf, cur.len);
        rc = 0;
        goto out;
    }
    if (!strcmp(cur.buf, c->value)) {
        rc = 0;
        goto out;
    }
    fd = open(c->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, c->value, strlen(c->value)) != (ssize_t) strlen(c->value)) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot set '%s' to '%s'", c->path, c->value);
        if (fd >= 0)
            close(fd);
        goto out;
    }
    close(fd);
    rc = 0;
out:
    st_buf_release(&cur);
    return rc;
}

int netns_sysctl_set(const char *name, const char *key, const char *value, struct st_err *err)
{
    struct sysctl_call c = {.value = value};
    if (sysctl_path(key, c.path, sizeof(c.path), err) < 0)
        return -1;
    return netns_call(name, sysctl_fn, &c, err);
}

int netns_sysctl_get(const char *name, const char *key, struct st_buf *out, struct st_err *err)
{
    struct sysctl_call c = {.out = out};
    if (sysctl_path(key, c.path, sizeof(c.path), err) < 0)
        return -1;
    return netns_call(name, sysctl_fn, &c, err);
}
