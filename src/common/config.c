/* config.c - option table, INI parsing through inih, typed getters. */
#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/banned.h"

struct cfg {
    const struct cfg_opt *opts;
    size_t nopts;
    char **values; /* owned copies, parallel to opts; NULL = default */
};

struct cfg *cfg_new(const struct cfg_opt *opts, size_t nopts)
{
    struct cfg *cfg = st_xcalloc(1, sizeof(*cfg));
    cfg->opts = opts;
    cfg->nopts = nopts;
    cfg->values = st_xcalloc(nopts ? nopts : 1, sizeof(char *));
    return cfg;
}

void cfg_free(struct cfg *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nopts; i++)
        free(cfg->values[i]);
    free(cfg->values);
    free(cfg);
}

static ssize_t cfg_find(const struct cfg *cfg, const char *section, const char *name)
{
    for (size_t i = 0; i < cfg->nopts; i++)
        if (!strcmp(cfg->opts[i].section, section) && !strcmp(cfg->opts[i].name, name))
            return (ssize_t) i;
    return -1;
}

static int cfg_check(const struct cfg_opt *o, const char *value, struct st_err *err)
{
    int64_t v;
    bool b;
    switch (o->type) {
    case CFG_STR:
        return 0;
    case CFG_INT:
        if (st_parse_i64(value, o->min, o->max, &v) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "option [%s] %s: '%s' is not an integer between %lld and %lld",
                       o->section, o->name, value, (long long) o->min, (long long) o->max);
            return -1;
        }
        return 0;
    case CFG_BOOL:
        if (st_parse_bool(value, &b) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "option [%s] %s: '%s' is not a boolean",
                       o->section, o->name, value);
            return -1;
        }
        return 0;
    }
    return 0;
}

int cfg_set(struct cfg *cfg, const char *section, const char *name, const char *value,
            struct st_err *err)
{
    ssize_t i = cfg_find(cfg, section, name);
    if (i < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "unknown option '%s' in section [%s]", name,
                   section);
        return -1;
    }
    if (cfg_check(&cfg->opts[i], value, err) < 0)
        return -1;
    free(cfg->values[i]);
    cfg->values[i] = st_xstrdup(value);
    return 0;
}

struct ini_ctx {
    struct cfg *cfg;
    struct st_err *err;
    const char *origin;
};

static int cfg_ini_line(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    struct st_err e = ST_ERR_INIT;
    if (!name)
        return 1; /* a section header alone */
    if (cfg_set(ctx->cfg, *section ? section : "DEFAULT", name, value, &e) < 0) {
        st_err_set(ctx->err, e.kind, "%s: %s", ctx->origin, e.msg);
        return 0;
    }
    return 1;
}

/* Debian's libinih cuts lines at INI_MAX_LINE (200) bytes and reports the
 * rest as a syntax error; say what is wrong instead. */
#define CFG_MAX_LINE 199

int cfg_load_string(struct cfg *cfg, const char *text, const char *origin, struct st_err *err)
{
    struct ini_ctx ctx = {cfg, err, origin};
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t) (nl - p) : strlen(p);
        if (n > CFG_MAX_LINE) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "%s: line %d is longer than %d characters",
                       origin, line, CFG_MAX_LINE);
            return -1;
        }
        p += n + (nl ? 1 : 0);
    }
    int rc = ini_parse_string(text, cfg_ini_line, &ctx);
    if (rc == 0)
        return 0;
    if (rc > 0)
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s: syntax error on line %d", origin, rc);
    else
        st_err_set(err, ST_ERR_INTERNAL, "%s: cannot parse", origin);
    return -1;
}

int cfg_load_file(struct cfg *cfg, const char *path, struct st_err *err)
{
    struct st_buf text = ST_BUF_INIT;
    int rc = -1;
    if (st_read_file(path, 1 << 20, &text, err) < 0)
        goto out;
    rc = cfg_load_string(cfg, text.buf, path, err);
out:
    st_buf_release(&text);
    return rc;
}

static const char *cfg_value(const struct cfg *cfg, const char *section, const char *name,
                             enum cfg_type type)
{
    ssize_t i = cfg_find(cfg, section, name);
    assert(i >= 0 && cfg->opts[i].type == type);
    if (i < 0)
        return NULL;
    return cfg->values[i] ? cfg->values[i] : cfg->opts[i].def;
}

const char *cfg_str(const struct cfg *cfg, const char *section, const char *name)
{
    return cfg_value(cfg, section, name, CFG_STR);
}

int64_t cfg_int(const struct cfg *cfg, const char *section, const char *name)
{
    const char *v = cfg_value(cfg, section, name, CFG_INT);
    int64_t n = 0;
    if (v && st_parse_i64(v, INT64_MIN, INT64_MAX, &n) < 0)
        n = 0;
    return n;
}

bool cfg_bool(const struct cfg *cfg, const char *section, const char *name)
{
    const char *v = cfg_value(cfg, section, name, CFG_BOOL);
    bool b = false;
    if (v && st_parse_bool(v, &b) < 0)
        b = false;
    return b;
}

static void wrap_comment(struct st_buf *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        size_t cut = n;
        if (n > 76) {
            cut = 76;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 76;
        }
        st_buf_addf(out, "# %.*s\n", (int) cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

void cfg_print_sample(const struct cfg_opt *opts, size_t nopts, const char *title,
                      struct st_buf *out)
{
    const char *section = NULL;
    wrap_comment(out, title);
    st_buf_adds(out, "#\n# Every option is shown commented out with its default value.\n");
    for (size_t i = 0; i < nopts; i++) {
        const struct cfg_opt *o = &opts[i];
        if (!section || strcmp(section, o->section)) {
            section = o->section;
            st_buf_addf(out, "\n[%s]\n", section);
        }
        st_buf_addch(out, '\n');
        wrap_comment(out, o->help);
        if (o->type == CFG_INT)
            st_buf_addf(out, "# Integer, %lld to %lld.\n", (long long) o->min,
                        (long long) o->max);
        else if (o->type == CFG_BOOL)
            st_buf_adds(out, "# Boolean.\n");
        st_buf_addf(out, "#%s = %s\n", o->name, o->def ? o->def : "");
    }
}
