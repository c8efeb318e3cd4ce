/*
 * copy.h - copying a whole SQLite store into another store (PostgreSQL),
 * checked table by table (stratus-manage db migrate-from-sqlite).
 */
#ifndef ST_STORE_COPY_H
#define ST_STORE_COPY_H

#include <stdint.h>

#include "common/err.h"
#include "store/store.h"

/* Called once per table after its check passed. */
typedef void (*store_copy_fn)(void *arg, const char *table, int64_t rows, uint64_t digest);

/* Migrates 'to' to the latest schema, then copies every table of 'from'
 * (SQLite, at the latest schema) into it, refusing a target with rows in
 * any of them; compares each table's row count and content digest in both
 * and commits only when all match.  Returns the number of tables copied,
 * or -1 with err (and nothing written). */
int store_copy(struct store *from, struct store *to, store_copy_fn report, void *arg,
               struct st_err *err) __attribute__((warn_unused_result));

#endif
