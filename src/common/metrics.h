/*
 * metrics.h - Prometheus metrics shared by stratusd and stratus-agent: a
 * registry of counters, gauges and fixed-bucket histograms, and the text
 * exposition format (version 0.0.4) they render to.
 *
 * Cost on the hot path.  A family keeps its series in a fixed table of
 * atomic pointers: finding an existing series hashes the label values and
 * probes the table with atomic loads, without a lock; only the first use of
 * a new combination of label values takes the family's mutex to insert it.
 * Values are 64-bit atomics, so an increment is one atomic add.  Series are
 * never removed, so a pointer from mx_series() stays valid until
 * mx_registry_free().
 *
 * Cardinality is bounded by construction: a family holds at most the
 * 'max_series' given at its creation; past that mx_series() returns NULL
 * (and the mx_* updates accept NULL and do nothing), so a caller that
 * labels by something unbounded loses figures, never memory.  Label values
 * should come from bounded sets anyway (route patterns, not raw paths).
 *
 * Units.  Values are integers (counts, nanoseconds, bytes); a family's
 * 'divisor' turns them into the unit of its name when rendered, e.g. 1e9
 * for durations observed in nanoseconds and named *_seconds.  Histogram
 * bounds are given in the observed unit too (nanoseconds).
 *
 * Rendering sorts families by registration order and series by their label
 * values, so the output is deterministic (golden tests).
 *
 * The writer functions (mx_text_*) are for figures computed at scrape time
 * that live in no registry; they escape exactly as the format says:
 * label values '\' '"' and newline, HELP text '\' and newline.
 */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The Content-Type of the text format this module writes. */
#define MX_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MX_MAX_LABELS 4
#define MX_MAX_BUCKETS 24

enum mx_type { MX_COUNTER, MX_GAUGE, MX_HISTOGRAM };

struct mx_registry;
struct mx_family;
struct mx_series;

/* A new, empty registry; free it with mx_registry_free() (NULL allowed),
 * after every thread that updates it is done. */
struct mx_registry *mx_registry_new(void);
void mx_registry_free(struct mx_registry *r);

/*
 * Registers a family.  'name' and the 'nlabels' names in 'labels' must be
 * valid metric and label names ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without
 * ':'), and 'name' new in 'r': anything else is a programmer error
 * (assert).  'help' is copied.  'divisor' (>= 1) scales values when
 * rendered.  For histograms, 'bounds' lists 'nbounds' (1..MX_MAX_BUCKETS)
 * increasing upper bounds in the observed unit; the +Inf bucket is implied.
 * Returns the family, owned by 'r'.
 */
struct mx_family *mx_family_new(struct mx_registry *r, enum mx_type type, const char *name,
                                const char *help, size_t nlabels, const char *const *labels,
                                double divisor, const int64_t *bounds, size_t nbounds,
                                size_t max_series);

/* The series of 'f' for the label values 'values' (as many as the family
 * has labels; NULL when it has none), created on first use.  NULL when the
 * family is full (or 'f' is NULL).  Thread-safe. */
struct mx_series *mx_series(struct mx_family *f, const char *const *values);

/* Counter: adds 'n'.  Gauge: mx_set() replaces the value, mx_add() adds
 * (mx_sub() subtracts).  Histogram: counts 'v' in its bucket and adds it to
 * the sum.  All thread-safe and lock-free; a NULL series is ignored. */
void mx_add(struct mx_series *s, uint64_t n);
void mx_sub(struct mx_series *s, uint64_t n);
void mx_set(struct mx_series *s, int64_t v);
void mx_observe(struct mx_series *s, int64_t v);

/* Appends every family of 'r' in the text format to 'out'.  Safe while
 * other threads update it (each value is read atomically; a histogram's
 * count is the sum of the bucket counts read, so it is always consistent
 * with its buckets). */
void mx_render(const struct mx_registry *r, struct st_buf *out);

/* ---- the writer, for figures computed at scrape time ------------------- */

/* "# HELP name help\n# TYPE name type\n". */
void mx_text_family(struct st_buf *out, const char *name, enum mx_type type, const char *help);
/* One sample line: name{k1="v1",...} value.  'kv' holds 'nlabels' pairs
 * (name, value, name, value, ...); 'value' is printed as the shortest text
 * that reads back as the same double ("+Inf", "-Inf", "NaN" as the format
 * spells them). */
void mx_text_sample(struct st_buf *out, const char *name, size_t nlabels, const char *const *kv,
                    double value);
/* The same for an integer value, printed exactly. */
void mx_text_sample_u64(struct st_buf *out, const char *name, size_t nlabels, const char *const *kv,
                        uint64_t value);
/* Appends 'v' escaped as a label value (without the quotes). */
void mx_text_escape_label(struct st_buf *out, const char *v);

#endif
