/*
 * catalog.c - the service catalog that project- and domain-scoped tokens
 * carry (and GET /v3/auth/catalog shows): the enabled services, each with
 * its enabled endpoints, with the project id filled into URL templates.
 */
#include "identity/identity.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static void substitute(const char *url, const char *project_id, struct st_buf *out)
{
    static const char *const pats[] = {"$(project_id)s", "%(project_id)s", "$(tenant_id)s",
                                       "%(tenant_id)s"};
    const char *p = url;
    while (*p) {
        bool hit = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(pats); i++) {
            size_t n = strlen(pats[i]);
            if (!strncmp(p, pats[i], n)) {
                st_buf_adds(out, project_id);
                p += n;
                hit = true;
                break;
            }
        }
        if (!hit)
            st_buf_addch(out, *p++);
    }
}

json_t *identity_catalog(struct store_conn *c, const char *project_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT s.id, s.type, s.name, e.id, e.interface,"
                                       " e.region_id, e.url FROM services s"
                                       " JOIN endpoints e ON e.service_id = s.id"
                                       " WHERE s.enabled = 1 AND e.enabled = 1"
                                       " ORDER BY s.type, s.id, e.interface, e.id",
                                       STORE_NOARGS);
    json_t *cat, *svc = NULL;
    const char *last = "";
    char *last_id = NULL;
    int rc;
    if (!s)
        return NULL;
    cat = json_array();
    while ((rc = store_next(s, err)) > 0) {
        const char *sid = store_text(s, 0), *url = store_text(s, 6);
        struct st_buf u = ST_BUF_INIT;
        if (strstr(url, "_id)s") && !project_id)
            continue; /* needs a project scope */
        if (!last_id || strcmp(last_id, sid)) {
            free(last_id);
            last_id = st_xstrdup(sid);
            svc = json_pack("{s:s, s:s, s:o, s:[]}", "id", sid, "type", store_text(s, 1), "name",
                            st_json_str_or_null(store_text(s, 2)), "endpoints");
            if (json_is_null(json_object_get(svc, "name")))
                json_object_set_new(svc, "name", json_string(""));
            json_array_append_new(cat, svc);
        }
        substitute(url, project_id ? project_id : "", &u);
        json_array_append_new(json_object_get(svc, "endpoints"),
                              json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", store_text(s, 3),
                                        "interface", store_text(s, 4), "region",
                                        st_json_str_or_null(store_text(s, 5)), "region_id",
                                        st_json_str_or_null(store_text(s, 5)), "url", u.buf));
        st_buf_release(&u);
    }
    (void) last;
    free(last_id);
    store_done(s);
    if (rc < 0) {
        json_decref(cat);
        return NULL;
    }
    return cat;
}
