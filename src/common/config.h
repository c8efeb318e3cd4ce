/*
 * config.h - INI configuration (parsed by inih) against a table of options.
 *
 * Each program declares its options once, in a table of struct cfg_opt with
 * section, name, type, default, range and help.  That table is the single
 * source of the defaults, the validation, and the commented sample file that
 * `--help-config` prints (etc/stratusd.conf.sample is that output, checked by a
 * test).  Unknown sections or keys are errors, so a typo is never ignored.
 * Values set later (command-line flags) override earlier ones (the file).
 */
#ifndef ST_CONFIG_H
#define ST_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_opt {
    const char *section; /* "DEFAULT", "api", ... */
    const char *name;
    enum cfg_type type;
    const char *def; /* default as text; NULL = unset */
    int64_t min, max; /* range for CFG_INT */
    const char *help; /* one or more sentences; no trailing newline */
};

struct cfg;

/* Returns a new configuration holding the defaults of 'opts' (which must
 * outlive it). */
struct cfg *cfg_new(const struct cfg_opt *opts, size_t nopts);
void cfg_free(struct cfg *cfg);
/* Reads an INI file; every key must be in the table and its value valid. */
int cfg_load_file(struct cfg *cfg, const char *path, struct st_err *err)
    __attribute__((warn_unused_result));
/* Parses INI text (for tests and for the file loader). */
int cfg_load_string(struct cfg *cfg, const char *text, const char *origin, struct st_err *err)
    __attribute__((warn_unused_result));
/* Sets one option, validating it; 'value' is copied. */
int cfg_set(struct cfg *cfg, const char *section, const char *name, const char *value,
            struct st_err *err) __attribute__((warn_unused_result));

/* Getters.  Asking for an option not in the table is a programmer error
 * (assert).  cfg_str() returns NULL for an unset option with no default. */
const char *cfg_str(const struct cfg *cfg, const char *section, const char *name);
int64_t cfg_int(const struct cfg *cfg, const char *section, const char *name);
bool cfg_bool(const struct cfg *cfg, const char *section, const char *name);

/* Writes a commented sample file documenting every option and its default. */
void cfg_print_sample(const struct cfg_opt *opts, size_t nopts, const char *title,
                      struct st_buf *out);

#endif
