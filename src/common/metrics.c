/*
 * metrics.c - the metrics registry and the Prometheus text format (see
 * metrics.h).
 */
#include "common/metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct mx_family;

struct mx_series {
    const struct mx_family *fam; /* for a histogram's bounds */
    char **values;               /* nlabels owned strings */
    _Atomic int64_t sum;         /* histogram: sum of observations */
    _Atomic uint64_t v[];        /* counter/gauge: v[0]; histogram: nbounds+1 buckets */
};

struct mx_family {
    struct mx_family *next; /* registration order */
    enum mx_type type;
    char *name, *help;
    size_t nlabels;
    char *labels[MX_MAX_LABELS];
    double divisor;
    int64_t bounds[MX_MAX_BUCKETS];
    size_t nbounds;
    size_t max_series, nseries; /* nseries: under 'lock' */
    size_t nslots;              /* a power of two >= 2 * max_series */
    _Atomic(struct mx_series *) *slots;
    pthread_mutex_t lock; /* inserting a series */
};

struct mx_registry {
    struct mx_family *first, **tail;
};

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return false;
    }
    return true;
}

struct mx_registry *mx_registry_new(void)
{
    struct mx_registry *r = st_xcalloc(1, sizeof(*r));
    r->tail = &r->first;
    return r;
}

static size_t series_values(const struct mx_family *f)
{
    return f->type == MX_HISTOGRAM ? f->nbounds + 1 : 1;
}

static void series_free(const struct mx_family *f, struct mx_series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < f->nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s);
}

void mx_registry_free(struct mx_registry *r)
{
    struct mx_family *f, *next;
    if (!r)
        return;
    for (f = r->first; f; f = next) {
        next = f->next;
        for (size_t i = 0; i < f->nslots; i++)
            series_free(f, atomic_load(&f->slots[i]));
        for (size_t i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->slots);
        free(f->name);
        free(f->help);
        pthread_mutex_destroy(&f->lock);
        free(f);
    }
    free(r);
}

struct mx_family *mx_family_new(struct mx_registry *r, enum mx_type type, const char *name,
                                const char *help, size_t nlabels, const char *const *labels,
                                double divisor, const int64_t *bounds, size_t nbounds,
                                size_t max_series)
{
    struct mx_family *f;

    assert(valid_name(name, true));
    assert(nlabels <= MX_MAX_LABELS);
    assert(divisor >= 1);
    assert(max_series >= 1);
    assert(type != MX_HISTOGRAM || (nbounds >= 1 && nbounds <= MX_MAX_BUCKETS));
    for (const struct mx_family *o = r->first; o; o = o->next)
        assert(strcmp(o->name, name) != 0);
    f = st_xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = st_xstrdup(name);
    f->help = st_xstrdup(help ? help : "");
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++) {
        assert(valid_name(labels[i], false) && strcmp(labels[i], "le") != 0);
        f->labels[i] = st_xstrdup(labels[i]);
    }
    f->divisor = divisor;
    if (type == MX_HISTOGRAM) {
        for (size_t i = 0; i < nbounds; i++) {
            assert(i == 0 || bounds[i] > bounds[i - 1]);
            f->bounds[i] = bounds[i];
        }
        f->nbounds = nbounds;
    }
    f->max_series = max_series;
    f->nslots = 1;
    while (f->nslots < 2 * max_series)
        f->nslots <<= 1;
    f->slots = st_xcalloc(f->nslots, sizeof(*f->slots));
    pthread_mutex_init(&f->lock, NULL);
    *r->tail = f;
    r->tail = &f->next;
    /* A family without labels has exactly one series: show it from the
     * start, at zero. */
    if (nlabels == 0)
        (void) mx_series(f, NULL);
    return f;
}

static uint64_t hash_values(const struct mx_family *f, const char *const *values)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < f->nlabels; i++) {
        for (const char *p = values[i] ? values[i] : ""; *p; p++)
            h = (h ^ (unsigned char) *p) * 1099511628211u;
        h = (h ^ 0xff) * 1099511628211u; /* a separator no UTF-8 text holds */
    }
    return h;
}

static bool same_values(const struct mx_family *f, const struct mx_series *s,
                        const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : ""))
            return false;
    return true;
}

/* The slot holding 'values', or the first empty one on its probe path. */
static size_t probe(struct mx_family *f, uint64_t h, const char *const *values,
                    struct mx_series **found)
{
    size_t mask = f->nslots - 1, i = (size_t) h & mask;
    for (;;) {
        struct mx_series *s = atomic_load_explicit(&f->slots[i], memory_order_acquire);
        if (!s || same_values(f, s, values)) {
            *found = s;
            return i;
        }
        i = (i + 1) & mask;
    }
}

struct mx_series *mx_series(struct mx_family *f, const char *const *values)
{
    struct mx_series *s;
    uint64_t h;
    size_t slot;

    if (!f)
        return NULL;
    h = hash_values(f, values);
    probe(f, h, values, &s);
    if (s)
        return s;
    pthread_mutex_lock(&f->lock);
    /* Again under the lock: another thread may have inserted it.  The table
     * is never more than half full, so the probe ends. */
    slot = probe(f, h, values, &s);
    if (!s && f->nseries < f->max_series) {
        size_t n = series_values(f);
        s = st_xcalloc(1, sizeof(*s) + n * sizeof(s->v[0]));
        s->fam = f;
        s->values = st_xcalloc(f->nlabels ? f->nlabels : 1, sizeof(*s->values));
        for (size_t i = 0; i < f->nlabels; i++)
            s->values[i] = st_xstrdup(values[i] ? values[i] : "");
        for (size_t i = 0; i < n; i++)
            atomic_init(&s->v[i], 0);
        atomic_init(&s->sum, 0);
        f->nseries++;
        atomic_store_explicit(&f->slots[slot], s, memory_order_release);
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

void mx_add(struct mx_series *s, uint64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->v[0], n, memory_order_relaxed);
}

void mx_sub(struct mx_series *s, uint64_t n)
{
    if (s)
        atomic_fetch_sub_explicit(&s->v[0], n, memory_order_relaxed);
}

void mx_set(struct mx_series *s, int64_t v)
{
    if (s)
        atomic_store_explicit(&s->v[0], (uint64_t) v, memory_order_relaxed);
}

void mx_observe(struct mx_series *s, int64_t v)
{
    const struct mx_family *f;
    size_t b = 0;
    if (!s)
        return;
    f = s->fam;
    while (b < f->nbounds && v > f->bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->v[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum, v, memory_order_relaxed);
}

/* ---- the writer -------------------------------------------------------- */

void mx_text_escape_label(struct st_buf *out, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            st_buf_adds(out, "\\\\");
        else if (*v == '"')
            st_buf_adds(out, "\\\"");
        else if (*v == '\n')
            st_buf_adds(out, "\\n");
        else
            st_buf_addch(out, *v);
    }
}

static void escape_help(struct st_buf *out, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            st_buf_adds(out, "\\\\");
        else if (*v == '\n')
            st_buf_adds(out, "\\n");
        else
            st_buf_addch(out, *v);
    }
}

static const char *type_name(enum mx_type t)
{
    switch (t) {
    case MX_COUNTER:
        return "counter";
    case MX_GAUGE:
        return "gauge";
    default:
        return "histogram";
    }
}

void mx_text_family(struct st_buf *out, const char *name, enum mx_type type, const char *help)
{
    st_buf_addf(out, "# HELP %s ", name);
    escape_help(out, help);
    st_buf_addf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

/* The shortest text that reads back as 'v'; integers without exponent. */
static void add_double(struct st_buf *out, double v)
{
    char t[64];
    if (isnan(v)) {
        st_buf_adds(out, "NaN");
        return;
    }
    if (isinf(v)) {
        st_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        st_buf_addf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof(t), "%.*g", prec, v);
        if (strtod(t, NULL) == v)
            break;
    }
    st_buf_adds(out, t);
}

static void add_labels(struct st_buf *out, size_t nlabels, const char *const *kv)
{
    if (!nlabels)
        return;
    st_buf_addch(out, '{');
    for (size_t i = 0; i < nlabels; i++) {
        st_buf_addf(out, "%s%s=\"", i ? "," : "", kv[2 * i]);
        mx_text_escape_label(out, kv[2 * i + 1]);
        st_buf_addch(out, '"');
    }
    st_buf_addch(out, '}');
}

void mx_text_sample(struct st_buf *out, const char *name, size_t nlabels, const char *const *kv,
                    double value)
{
    st_buf_adds(out, name);
    add_labels(out, nlabels, kv);
    st_buf_addch(out, ' ');
    add_double(out, value);
    st_buf_addch(out, '\n');
}

void mx_text_sample_u64(struct st_buf *out, const char *name, size_t nlabels, const char *const *kv,
                        uint64_t value)
{
    st_buf_adds(out, name);
    add_labels(out, nlabels, kv);
    st_buf_addf(out, " %" PRIu64 "\n", value);
}

/* ---- rendering a registry ---------------------------------------------- */

static int cmp_series(const void *a, const void *b, void *arg)
{
    const struct mx_family *f = arg;
    const struct mx_series *x = *(const struct mx_series *const *) a;
    const struct mx_series *y = *(const struct mx_series *const *) b;
    for (size_t i = 0; i < f->nlabels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

/* kv pairs of a series' labels, plus room for "le". */
static size_t series_kv(const struct mx_family *f, const struct mx_series *s,
                        const char *kv[2 * (MX_MAX_LABELS + 1)])
{
    for (size_t i = 0; i < f->nlabels; i++) {
        kv[2 * i] = f->labels[i];
        kv[2 * i + 1] = s->values[i];
    }
    return f->nlabels;
}

static void render_value(struct st_buf *out, const struct mx_family *f, const char *name, size_t n,
                         const char *const *kv, uint64_t raw, bool is_signed)
{
    if (f->divisor == 1) {
        if (is_signed) {
            st_buf_adds(out, name);
            add_labels(out, n, kv);
            st_buf_addf(out, " %" PRId64 "\n", (int64_t) raw);
        } else {
            mx_text_sample_u64(out, name, n, kv, raw);
        }
        return;
    }
    mx_text_sample(out, name, n, kv,
                   (is_signed ? (double) (int64_t) raw : (double) raw) / f->divisor);
}

static void render_histogram(struct st_buf *out, const struct mx_family *f,
                             const struct mx_series *s)
{
    const char *kv[2 * (MX_MAX_LABELS + 1)];
    size_t n = series_kv(f, s, kv);
    struct st_buf name = ST_BUF_INIT, le = ST_BUF_INIT;
    uint64_t cum = 0;

    st_buf_addf(&name, "%s_bucket", f->name);
    kv[2 * n] = "le";
    for (size_t b = 0; b <= f->nbounds; b++) {
        cum += atomic_load_explicit(&s->v[b], memory_order_relaxed);
        st_buf_reset(&le);
        if (b == f->nbounds)
            st_buf_adds(&le, "+Inf");
        else
            add_double(&le, (double) f->bounds[b] / f->divisor);
        kv[2 * n + 1] = le.buf;
        mx_text_sample_u64(out, name.buf, n + 1, kv, cum);
    }
    st_buf_reset(&name);
    st_buf_addf(&name, "%s_sum", f->name);
    render_value(out, f, name.buf, n, kv,
                 (uint64_t) atomic_load_explicit(&s->sum, memory_order_relaxed), true);
    st_buf_reset(&name);
    st_buf_addf(&name, "%s_count", f->name);
    mx_text_sample_u64(out, name.buf, n, kv, cum);
    st_buf_release(&name);
    st_buf_release(&le);
}

void mx_render(const struct mx_registry *r, struct st_buf *out)
{
    for (const struct mx_family *f = r->first; f; f = f->next) {
        struct mx_series **list = st_xcalloc(f->nslots, sizeof(*list));
        size_t n = 0;

        for (size_t i = 0; i < f->nslots; i++) {
            struct mx_series *s = atomic_load_explicit(&f->slots[i], memory_order_acquire);
            if (s)
                list[n++] = s;
        }
        qsort_r(list, n, sizeof(*list), cmp_series, (void *) f);
        mx_text_family(out, f->name, f->type, f->help);
        for (size_t i = 0; i < n; i++) {
            const char *kv[2 * (MX_MAX_LABELS + 1)];
            size_t nl;
            if (f->type == MX_HISTOGRAM) {
                render_histogram(out, f, list[i]);
                continue;
            }
            nl = series_kv(f, list[i], kv);
            render_value(out, f, f->name, nl, kv,
                         atomic_load_explicit(&list[i]->v[0], memory_order_relaxed),
                         f->type == MX_GAUGE);
        }
        free(list);
    }
}
