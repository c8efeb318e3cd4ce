/*
 * vattach.h - the libvirt side of attached volumes (VOLUMES.md): the
 * libvirt secrets holding the CHAP passwords of iSCSI attachments, hot-plug
 * and unplug of volume disks in running domains, and libvirt's block
 * resize of a volume a running guest has open.
 *
 * The persistent definition is the truth for what is attached: the
 * reconciler renders every attached volume into the domain XML
 * (domain_xml_render) and defines it; vattach_sync_live() then makes the
 * running domain match it, attaching the definition's own <disk> (so live
 * and next boot agree on target and address) and detaching by the user
 * alias (DOMAIN_VOL_ALIAS) what the definition no longer has.  A guest
 * releases an unplugged disk in its own time: until it has, the disk is
 * still reported attached.
 *
 * Secrets: usage type iscsi, usage id "stratus-<host id>-<attachment id>",
 * so an agent removes only its own (several agents may share libvirtd).
 */
#ifndef ST_AGENT_VATTACH_H
#define ST_AGENT_VATTACH_H

#include <jansson.h>

#include "agent/model.h"
#include "agent/virt.h"
#include "common/buf.h"
#include "common/err.h"

#define VATTACH_SECRET_PREFIX "stratus-"

/* Appends the usage id of the secret of attachment 'attachment_id' to 'out'. */
void vattach_secret_usage(const char *host_id, const char *attachment_id, struct st_buf *out);

/* Makes sure the secrets of the iSCSI attachments of 's' exist and hold
 * their CHAP secrets. */
int vattach_prepare(struct virt *v, const char *host_id, const struct model_server *s,
                    struct st_err *err) __attribute__((warn_unused_result));

/* When domain 'name' runs: hot-plugs the volume disks of its persistent
 * definition that the live domain lacks, asks the guest to release the
 * live ones the definition lacks.  Nothing when it does not run.  Returns
 * the number of volume disks the live and persistent XML had (0: nothing to
 * look at until the desired state attaches something).  When a hot-plug
 * fails, 'failed_att' gets its attachment id ("" for other failures). */
int vattach_sync_live(struct virt *v, const char *name, char failed_att[MODEL_ID_MAX],
                      struct st_err *err) __attribute__((warn_unused_result));

/* The "volumes" of the report entry of 's' (domain 'name'): each of its
 * attachments that the domain has (the live one when running, else the
 * definition): {"attachment_id", "state": "attached"}; attachment
 * 'fault_att' (may be NULL) when not attached: "error" with 'fault'.  New
 * reference. */
json_t *vattach_report(struct virt *v, const char *name, const struct model_server *s,
                       const char *fault_att, const char *fault);

/* Removes the secrets named for 'host_id' that no attachment of 'd' uses. */
int vattach_cleanup_secrets(struct virt *v, const char *host_id, const struct model_desired *d,
                            int *removed, struct st_err *err) __attribute__((warn_unused_result));

/* Grows volume 'volume_id' to 'bytes' through virDomainBlockResize when a
 * running domain of a server of 'd' has it attached.  Returns 1 when done,
 * 0 when no running domain has it (the caller grows the file itself). */
int vattach_block_resize(struct virt *v, const struct model_desired *d, const char *volume_id,
                         unsigned long long bytes, struct st_err *err)
    __attribute__((warn_unused_result));

#endif
