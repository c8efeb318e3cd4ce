/*
 * migrations.h - the numbered schema migrations, oldest first.  A migration
 * is never edited once released: add a new one.  SQL is kept portable between
 * SQLite and PostgreSQL (TEXT, INTEGER/BIGINT, 0/1 booleans, epoch times).
 */
#ifndef ST_MIGRATIONS_H
#define ST_MIGRATIONS_H

#include <stddef.h>

struct store_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
