/*
 * console.h (agent) - the console relay: the agent's half of the remote
 * consoles (docs/agent-protocol.md "Consoles").
 *
 * The desired state lists the console sessions stratusd has accepted a
 * token for ("consoles": [{"session", "server_id", "kind"}]).  For each
 * new one the agent opens the guest's console -- for "vnc" a connection to
 * the domain's VNC server from libvirt (virDomainOpenGraphicsFD: the VNC
 * server listens nowhere), for "serial" the UNIX socket
 * INSTANCE_DIR/console.sock -- dials back
 * GET CONTROLLER/internal/v1/hosts/HOST/console/SESSION with its host
 * secret and "Upgrade: stratus-console", and relays bytes both ways in a
 * thread of its own until either side closes or the session leaves the
 * desired state.  When the socket cannot be opened it says so in the same
 * call (X-Console-Error, no upgrade), so the browser learns it at once.
 * The guest's consoles are reachable in no other way: no TCP listener.
 */
#ifndef ST_AGENT_CONSOLE_H
#define ST_AGENT_CONSOLE_H

#include <jansson.h>

#include "common/err.h"

struct consoles;

/* The relay of host 'host' (with 'secret') to the controller at
 * 'controller_url' (http://ADDR:PORT; https is not supported yet), for the
 * instances under 'instances_path' on libvirt 'libvirt_uri'.  Strings are copied.  NULL with 'err'
 * for a URL it cannot use. */
struct consoles *consoles_new(const char *controller_url, const char *host, const char *secret,
                              const char *instances_path, const char *libvirt_uri,
                              struct st_err *err);
/* Ends every relay and waits for their threads.  NULL is fine. */
void consoles_free(struct consoles *cs);
/* Brings the relays in line with 'list', the desired state's "consoles"
 * (NULL or not an array: none): starts the new sessions, ends those gone.
 * Never blocks on a relay. */
void consoles_sync(struct consoles *cs, const json_t *list);

#endif
