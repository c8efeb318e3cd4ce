/*
 * domain.h - the libvirt domain XML of a server: a pure function of the
 * model and the host-side paths, written with libxml2's xmlTextWriter (never
 * by pasting strings), in the shape of Nova's libvirt driver (ARCHITECTURE
 * §4): <metadata> with the instance name, flavor, owner and image in Nova's
 * namespace, and the host that owns the domain in stratus's
 * (<stratus:host uuid="HOST ID"/>, DOMAIN_STRATUS_NS: an agent removes only
 * the domains that name its host; see virt_list_servers()); SMBIOS
 * sysinfo with the server id as serial and uuid; virtio disks and NICs; a
 * serial console logged to console.log plus a pty; VNC; a memballoon with a stats period; ACPI and APIC; the CPU topology from the
 * flavor's extra specs (hw:cpu_sockets/cores/threads) or the image's
 * properties (hw_cpu_sockets/...); direct kernel boot when the image has a
 * kernel (and ramdisk, os_command_line).
 *
 * Golden tests: tests/data/domain/<case>.json -> <case>.xml.
 */
#ifndef ST_AGENT_DOMAIN_H
#define ST_AGENT_DOMAIN_H

#include <stdbool.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* A volume attached to the server (VOLUMES.md): a virtio disk with
 * <serial> = the volume id (what the guest reads in /sys/block/vdX/serial,
 * as with Nova) and the user alias "ua-vol-<attachment id>" (DOMAIN_VOL_ALIAS),
 * by which the agent finds it again in the live and persistent XML. */
struct domain_volume {
    const struct model_attachment *att;
    const char *format;       /* "qcow2" or "raw": what the bytes on the connection are */
    const char *secret_usage; /* iscsi: the usage id of the libvirt secret holding the
                                 CHAP password */
};

#define DOMAIN_VOL_ALIAS "ua-vol-"

/* Files of an instance on the host; NULL for those it has not.  Every disk
 * but the seed is qcow2; the seed is a raw ISO. */
struct domain_paths {
    const char *disk;        /* root disk, qcow2 overlay: INSTANCE_DIR/disk */
    const char *disk_local;  /* ephemeral disk (flavor.ephemeral_gb > 0) */
    const char *disk_swap;   /* swap disk (flavor.swap_mb > 0) */
    const char *seed;        /* NoCloud or config-drive ISO, attached as a CD-ROM */
    const char *console_log; /* serial log file */
    const char *console_socket; /* the serial console as a UNIX socket QEMU listens
                                   on (the agent's console relay); NULL: a pty */
    const char *kernel;      /* direct boot: cached kernel and ramdisk (the rescue
                                image's while rescued); non-NULL = direct boot */
    const char *initrd;
    const char *rescue_disk; /* when rescued: boots first, the root disk second;
                                disk_local and disk_swap are left out then */
    const struct domain_volume *volumes; /* attached volumes; one with boot_index 0
                                            replaces the root disk ('disk' may be NULL) */
    int nvolumes;
};

struct domain_opts {
    const char *virt_type;   /* "kvm" or "qemu" (TCG); "auto" is resolved by the
                                caller.  Disk cache: "none" (kvm), "writeback" (qemu) */
    const char *vnc_listen;  /* address VNC listens on, e.g. "127.0.0.1";
                                "none": no listener (reached through libvirt);
                                NULL: no graphics, tablet or video */
    int memballoon_period;   /* seconds between balloon stats, 0 = off */
    const char *host_id;     /* the owning host's id (a UUID), required */
};

/* The XML namespace of stratus's own <metadata> element.  An identifier
 * only: the .invalid domain (RFC 2606) never resolves and belongs to no
 * one whose namespace it could clash with. */
#define DOMAIN_STRATUS_NS "https://stratus.invalid/xmlns/agent/1"

/* The libvirt domain name of a server: "instance-<uuid>".  'out' gets it. */
void domain_name(const char *server_id, struct st_buf *out);

/* Appends the <disk> XML of volume 'v' alone to 'out', as the domain XML
 * has it, with target 'dev' ("vdb"): for tests and for attaching it to a
 * running domain. */
int domain_volume_xml(const struct domain_volume *v, const char *dev, const char *virt_type,
                      struct st_buf *out, struct st_err *err) __attribute__((warn_unused_result));

/* Appends the domain XML of 's' to 'out' (nothing on failure).  Fails with
 * BAD_REQUEST when the model asks for something that cannot be rendered (a
 * CPU topology that does not make the vCPU count, an unknown hw_disk_bus,
 * hw_vif_model, hw_video_model or hw_scsi_model), with INTERNAL when the
 * caller's paths or options are wrong (no root disk, virt_type not kvm or
 * qemu, no host_id, rescued without rescue_disk). */
int domain_xml_render(const struct model_server *s, const struct domain_paths *paths,
                      const struct domain_opts *opts, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));

#endif
