/*
 * bench-hash - what one password verification costs at each yescrypt cost,
 * so that token issue latency can be read as "hash + the rest".
 * Prints one line per cost: median of N verifications in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/util.h"
#include "identity/password.h"
#include "common/banned.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    static const int costs[] = {0, 3, 5, 7};
    for (size_t c = 0; c < sizeof(costs) / sizeof(costs[0]); c++) {
        struct st_buf h = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        double t[15];
        if (password_hash("correct horse battery staple", costs[c], &h, &err) < 0) {
            fprintf(stderr, "bench-hash: %s\n", err.msg);
            return 1;
        }
        for (int i = 0; i < 15; i++) {
            int64_t t0 = st_mono_ns();
            if (!password_verify("correct horse battery staple", h.buf))
                return 1;
            t[i] = (double) (st_mono_ns() - t0) / 1e6;
        }
        qsort(t, 15, sizeof(double), cmp);
        printf("password verify, yescrypt cost %d%s: p50 %.2f ms\n", costs[c],
               costs[c] == 0 ? " (default, 5)" : "", t[7]);
        st_buf_release(&h);
    }
    return 0;
}
