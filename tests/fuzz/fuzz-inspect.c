/* fuzz-inspect.c - libFuzzer harness for the image format inspector
 * (image/inspect.h): every input is inspected as an uploaded image and then
 * judged against each disk_format Glance knows, as the image service does
 * at the end of an upload.
 *
 * Beyond the sanitizers, it checks the inspector's own promises: an input
 * is either well formed or malformed with a reason (a buffer cannot fail to
 * be read), a malformed or unsafe image is refused whatever its declared
 * format, the virtual size fits an int64, and the text fields are strings.
 *
 * Seeds: tests/fuzz/make-inspect-corpus DIR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/inspect.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const disk_formats[] = {"raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx",
                                           "iso", "aki", "ari", "ami", "ploop", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    bool unsafe;
    int rc = image_inspect_buf(data, size, &info, &err);

    if (rc < 0) {
        if (err.kind != ST_ERR_BAD_REQUEST || !info.malformed || strcmp(err.msg, info.problem))
            abort();
    } else if (info.malformed || info.format == IMAGE_FMT_UNKNOWN) {
        abort();
    }
    if (info.virtual_size > INT64_MAX || !memchr(info.detail, '\0', sizeof(info.detail)) ||
        !memchr(info.problem, '\0', sizeof(info.problem)) ||
        !memchr(info.subformat, '\0', sizeof(info.subformat)))
        abort();
    unsafe = info.malformed || info.has_backing_file || info.has_data_file ||
             info.has_foreign_extents;
    for (size_t i = 0; i < sizeof(disk_formats) / sizeof(disk_formats[0]); i++) {
        struct st_err cerr = ST_ERR_INIT;
        int ok = image_check(&info, disk_formats[i], &cerr);
        if (ok == 0 && unsafe)
            abort();
        /* raw and ami never take a structured disk format */
        if (ok == 0 && (!strcmp(disk_formats[i], "raw") || !strcmp(disk_formats[i], "ami")) &&
            !(info.format == IMAGE_FMT_RAW || info.format == IMAGE_FMT_ISO ||
              info.format == IMAGE_FMT_KERNEL || info.format == IMAGE_FMT_RAMDISK))
            abort();
        if (ok < 0 && (cerr.kind != ST_ERR_BAD_REQUEST || !cerr.msg[0]))
            abort();
    }
    return 0;
}
