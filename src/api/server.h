/*
 * server.h - the HTTP listener (libmicrohttpd, one thread per connection, so
 * handlers may block on SQLite, disk or a long-poll without stalling other
 * clients), request logging, body limits, authentication and dispatch.
 */
#ifndef ST_SERVER_H
#define ST_SERVER_H

#include <stdint.h>

#include "api/api.h"

struct api_server;

/* Starts serving on 'listen' ("ADDR:PORT", "[V6ADDR]:PORT"; port 0 picks a
 * free one).  'app' is borrowed and must outlive the server. */
struct api_server *api_server_start(struct app *app, const char *listen, unsigned max_conns,
                                    struct st_err *err);
/* The port actually bound. */
uint16_t api_server_port(const struct api_server *srv);
/* Stops accepting, waits for the requests in progress, frees everything. */
void api_server_stop(struct api_server *srv);

/* Every route of every service (api/routes.c). */
struct router;
void api_register_routes(struct router *r);

/* An in-process request, for unit tests and fuzzing: it goes through the
 * same routing, body limit, authentication, handler and fault rendering as
 * one from the network. */
struct api_call {
    const char *method;
    const char *path;
    const struct api_kv *headers;
    size_t nheaders;
    const struct api_kv *query;
    size_t nquery;
    const char *body;
    size_t body_len;
};
struct api_result {
    int status;
    json_t *json;         /* the body parsed as JSON, or NULL (owned) */
    struct st_buf body;   /* the raw body */
    struct st_buf headers; /* "Name: value\n" lines */
};
/* Handles 'call' with the routes of 'r' (from router_new() plus
 * api_register_routes()).  Release 'res' with api_result_release(). */
void api_handle(struct app *app, const struct router *r, const struct api_call *call,
                struct api_result *res);
void api_result_release(struct api_result *res);

#endif
