/*
 * options.h - the agent's configuration options (stratus-agent), in one
 * table that gives the defaults, the validation and the sample file
 * etc/stratus-agent.conf.sample (`stratus-agent --help-config`), like the
 * controller's src/api/options.h.  Command-line flags override the file.
 *
 * The derived values (host name, instances path, credential file, virt
 * type) are resolved here so that main.c and the tests agree on them.
 */
#ifndef ST_AGENT_OPTIONS_H
#define ST_AGENT_OPTIONS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>

#include "common/config.h"
#include "common/err.h"

extern const struct cfg_opt agent_opts[];
extern const size_t agent_opts_count;

/* The title of the sample file (`--help-config`, etc/stratus-agent.conf.sample). */
#define AGENT_SAMPLE_TITLE                                                                         \
    "stratus-agent.conf - configuration of the stratus host agent (stratus-agent), one per "       \
    "hypervisor host."

/* Flags that override the file; NULL members are not given. */
struct agent_flags {
    const char *data_dir;
    const char *controller;
    const char *host;
    const char *credential;
    const char *log_level;
    const char *log_file;
    const char *metrics_listen;
};

/* Loads the defaults, then 'config_file' (may be NULL), then the flags.
 * Checks the values that the table cannot (virt_type, log level, URL
 * scheme).  Returns a new config (cfg_free) or NULL with 'err' set. */
struct cfg *agent_config(const char *config_file, const struct agent_flags *flags,
                         struct st_err *err);

/* Derived values.  Each returns a new string (free()). */
/* [DEFAULT] host, or gethostname() when empty. */
char *agent_host_name(const struct cfg *cfg);
/* [DEFAULT] instances_path, or DATA_DIR/instances. */
char *agent_instances_path(const struct cfg *cfg);
/* [DEFAULT] credential, or DATA_DIR/hosts/HOST.secret. */
char *agent_credential_path(const struct cfg *cfg, const char *host);

/* Reads the host secret from 'path': one line of base64url (surrounding
 * whitespace ignored).  Returns a new string or NULL with 'err' set. */
char *agent_read_secret(const char *path, struct st_err *err);

/* [libvirt] virt_type resolved: "kvm" or "qemu".  For "auto", KVM only when
 * 'kvm_dev' (normally /dev/kvm) opens, answers KVM_GET_API_VERSION, and
 * 'cpuinfo' (normally /proc/cpuinfo) lists vmx or svm. */
const char *agent_virt_type(const char *configured, const char *kvm_dev, const char *cpuinfo);

/* Whether user 'uid' (primary group 'gid', supplementary 'groups') may
 * read and write a device node with the ownership and mode of 'st', as the
 * kernel decides it.  The agent asks it of /dev/kvm for the user QEMU runs
 * as (libvirt-qemu): when libvirt's probe of QEMU saw KVM but that user
 * cannot open /dev/kvm, libvirt treats its capabilities cache as stale on
 * every call and probes QEMU again (seconds each time, tens of seconds per
 * domain define and start). */
bool agent_dev_rw_for(const struct stat *st, uid_t uid, gid_t gid, const gid_t *groups,
                      int ngroups);

#endif
