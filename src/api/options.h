/*
 * options.h - the controller's configuration options (stratusd and
 * stratus-manage read the same file).  etc/stratusd.conf.sample is generated
 * from this table by `stratusd --help-config`.
 */
#ifndef ST_OPTIONS_H
#define ST_OPTIONS_H

#include <stddef.h>

#include "common/config.h"

extern const struct cfg_opt controller_opts[];
extern const size_t controller_opts_count;

/* Loads defaults, then 'config_file' (may be NULL), then 'data_dir' and
 * 'listen' from flags (may be NULL).  Returns a new config. */
struct cfg *controller_config(const char *config_file, const char *data_dir, const char *listen,
                              struct st_err *err);
/* Derived paths: "DATA_DIR/stratus.db" unless [database] connection is set,
 * "DATA_DIR/keys/token" unless [token] key_repository is set.  New strings. */
char *controller_db_url(const struct cfg *cfg);
char *controller_key_dir(const struct cfg *cfg);
/* The compute settings; strings point into 'cfg'. */
struct compute_conf;
int controller_compute_conf(const struct cfg *cfg, struct compute_conf *cc, struct st_err *err)
    __attribute__((warn_unused_result));

#endif
