/*
 * sign.h (metadata) - the instance identity a metadata proxy vouches for,
 * and its signature, shared by the agent's proxy (src/agent/metadata_proxy.c,
 * which signs) and stratusd's metadata API (src/api/metadata.c, which checks).
 *
 * The identity is the network a request arrived from and the source address
 * it came with ("NETWORK_ID ADDRESS"): the proxy only knows those (ports of
 * other hosts are not in its desired state); stratusd finds the port with
 * that fixed address on that network and its server.  The signature is the
 * hex HMAC-SHA256 of the identity under [metadata] shared_secret, as
 * Neutron's X-Instance-ID-Signature is of the instance id.  Anti-spoofing
 * on the guest's port (the agent's bridge rules) keeps a guest to its own
 * source address, so the identity cannot be claimed for another guest.
 */
#ifndef ST_METADATA_SIGN_H
#define ST_METADATA_SIGN_H

#include <stdbool.h>

#define MDS_SIG_LEN 64  /* hex digits of an HMAC-SHA256 */

/* The headers the proxy adds (and removes from what the guest sent). */
#define MDS_HDR_ADDR "X-Forwarded-For"
#define MDS_HDR_NETWORK "X-Neutron-Network-ID"
#define MDS_HDR_ROUTER "X-Neutron-Router-ID"
#define MDS_HDR_SIG "X-Instance-ID-Signature"

/* Writes the signature of ('network_id', 'address') under 'secret' into
 * 'out' (MDS_SIG_LEN + 1 bytes, NUL-terminated).  Pure. */
void mds_sign(const char *secret, const char *network_id, const char *address,
              char out[MDS_SIG_LEN + 1]);

/* True if 'sig' is that signature (compared in constant time); false for a
 * NULL or empty 'secret', 'sig' or identity. */
bool mds_verify(const char *secret, const char *network_id, const char *address, const char *sig);

#endif
