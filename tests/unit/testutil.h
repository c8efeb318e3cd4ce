/*
 * testutil.h - what every unit test shares: the cmocka includes in the order
 * cmocka needs, temporary directories, and the runner that keeps known bugs
 * out of the passing suite without hiding them.
 *
 * Known bugs.  A test that exposes a bug in src/ is written to assert the
 * correct behaviour and listed in the file's known_bugs[] table instead of
 * tests[].  The normal run ("unit" suite) prints a "# KNOWN BUG" comment for
 * each and does not run it; with ST_TEST_KNOWN_BUGS=1 (the "known-bugs"
 * suite, where meson expects the program to fail) only those tests run.
 * Once the bug is fixed, meson reports UNEXPECTEDPASS there: move the test
 * into tests[] and drop the file from known_bug_tests in tests/meson.build.
 *
 * TAP: cmocka prints it when CMOCKA_MESSAGE_OUTPUT=TAP (tests/meson.build
 * sets it).  Anything else a test prints to stdout must start with "# ".
 */
#ifndef ST_TESTUTIL_H
#define ST_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

/* A test that documents a bug in src/: the message says where and what. */
struct tu_known_bug {
    struct CMUnitTest test;
    const char *what; /* "src/common/util.c:NNN: ..." */
};
#define TU_KNOWN_BUG(fn, what) {cmocka_unit_test(fn), what}

/* The source tree (for etc/ and tests/data/). */
static inline const char *tu_srcdir(void)
{
    const char *s = getenv("ST_SRCDIR");
    return s && *s ? s : TEST_SRCDIR;
}

/* A new empty directory under $TMPDIR (or /tmp); free() the result.  Never
 * NULL: the test program aborts if it cannot make one. */
static inline char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    char *p = NULL;
    int n = snprintf(path, sizeof(path), "%s/stratus-test-XXXXXX", base && *base ? base : "/tmp");
    if (n > 0 && (size_t) n < sizeof(path) && mkdtemp(path))
        p = strdup(path);
    if (!p) {
        fprintf(stderr, "cannot create a temporary directory in %s\n", base ? base : "/tmp");
        abort();
    }
    return p;
}

static inline int tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf 'path' (NULL allowed). */
static inline void tu_rmrf(const char *path)
{
    if (path)
        (void) nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The number of entries of directory 'path' (without . and ..), or -1. */
static inline int tu_count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Permission bits of 'path', or -1. */
static inline int tu_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return -1;
    return (int) (sb.st_mode & 07777);
}

/* Runs 'tests', or with ST_TEST_KNOWN_BUGS set only 'bugs' (see above). */
static inline int tu_run(const char *group, const struct CMUnitTest *tests, size_t ntests,
                         const struct tu_known_bug *bugs, size_t nbugs)
{
    const char *kb = getenv("ST_TEST_KNOWN_BUGS");
    if (kb && *kb && strcmp(kb, "0")) {
        struct CMUnitTest *t = calloc(nbugs ? nbugs : 1, sizeof(*t));
        int rc;
        if (!t)
            return 1;
        for (size_t i = 0; i < nbugs; i++) {
            printf("# KNOWN BUG %s: %s\n", bugs[i].test.name, bugs[i].what);
            t[i] = bugs[i].test;
        }
        fflush(stdout);
        if (nbugs == 0) {
            printf("1..0 # SKIP no known bugs in %s\n", group);
            free(t);
            return 0;
        }
        rc = _cmocka_run_group_tests(group, t, nbugs, NULL, NULL);
        free(t);
        return rc;
    }
    for (size_t i = 0; i < nbugs; i++)
        printf("# KNOWN BUG, not run here (suite known-bugs runs it): %s: %s\n",
               bugs[i].test.name, bugs[i].what);
    fflush(stdout);
    return _cmocka_run_group_tests(group, tests, ntests, NULL, NULL);
}

#define TU_RUN(group, tests, bugs)                                                                 \
    tu_run(group, tests, sizeof(tests) / sizeof((tests)[0]), bugs,                                 \
           sizeof(bugs) / sizeof(struct tu_known_bug))

#endif
