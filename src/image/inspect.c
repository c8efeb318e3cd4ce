/* inspect.c - the image format inspector: bounds-checked parsers for the
 * headers of qcow2, qed, vmdk, vdi, vhd, vhdx, luks, ISO 9660, kernels and
 * ramdisks, and the verdict on an image's declared disk_format.
 *
 * Each parser reads a few fixed-size structures through rd(), which refuses
 * any range outside the reader's size, and records what it finds in a
 * 'struct image_info'.  Content that claims a format but breaks its rules
 * is marked malformed (bad()) instead of being taken for raw.  Only the vmdk
 * descriptor is read into memory, and at most the 1 MiB qemu reads. */
#include "image/inspect.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/banned.h"

/* The first bytes, read once: enough for every probe at a fixed offset
 * (vdi at 0x40, bzImage at 0x202) and for qemu's vmdk text probe, which
 * looks at BLOCK_PROBE_BUF_SIZE (2048) bytes. */
#define HEAD_LEN 2048

/* What a disk_format may hold, and the Glance names of the formats. */
static const struct {
    const char *name; /* Glance disk_format name */
    bool disk;        /* a structured disk format, never acceptable as raw */
} formats[] = {
    [IMAGE_FMT_UNKNOWN] = {"unknown", false},
    [IMAGE_FMT_RAW] = {"raw", false},
    [IMAGE_FMT_QCOW2] = {"qcow2", true},
    [IMAGE_FMT_VMDK] = {"vmdk", true},
    [IMAGE_FMT_VDI] = {"vdi", true},
    [IMAGE_FMT_VHD] = {"vhd", true},
    [IMAGE_FMT_VHDX] = {"vhdx", true},
    [IMAGE_FMT_ISO] = {"iso", false},
    [IMAGE_FMT_KERNEL] = {"aki", false},
    [IMAGE_FMT_RAMDISK] = {"ari", false},
    [IMAGE_FMT_QED] = {"qed", true},
    [IMAGE_FMT_LUKS] = {"luks", true},
};

const char *image_format_name(enum image_format f)
{
    if ((unsigned) f >= ST_ARRAY_SIZE(formats) || !formats[f].name)
        return "unknown";
    return formats[f].name;
}

/* ---- reading ------------------------------------------------------------- */

struct insp {
    const struct image_reader *r;
    struct image_info *out;
    struct st_err *err;
};

/* Reads exactly 'len' bytes at 'off'.  Returns 1 when done; 0, reading
 * nothing, when the range does not lie within the data; -1 with 'err' set
 * when the reader fails. */
static int rd(struct insp *in, uint64_t off, void *buf, size_t len)
{
    uint64_t size = in->r->size;
    size_t done = 0;

    if (off > size || len > size - off)
        return 0;
    while (done < len) {
        size_t want = len - done > INT_MAX ? INT_MAX : len - done;
        int n = in->r->read_at(in->r->ctx, off + done, (char *) buf + done, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st_err_sys(in->err, errno, ST_ERR_INTERNAL, "cannot read image data at offset %llu",
                       (unsigned long long) (off + done));
            return -1;
        }
        if (n == 0 || (size_t) n > want) {
            st_err_set(in->err, ST_ERR_INTERNAL,
                       "image data ended at offset %llu, before its size of %llu bytes",
                       (unsigned long long) (off + done), (unsigned long long) size);
            return -1;
        }
        done += (size_t) n;
    }
    return 1;
}

/* Reads 'len' bytes at 'off' as qemu's block layer does: what lies beyond
 * the end of the data reads as zeroes.  Returns 0, or -1 with 'err' set. */
static int rdz(struct insp *in, uint64_t off, void *buf, size_t len)
{
    uint64_t size = in->r->size;
    size_t have;

    memset(buf, 0, len);
    if (off >= size)
        return 0;
    have = size - off < len ? (size_t) (size - off) : len;
    return rd(in, off, buf, have) < 0 ? -1 : 0;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t) be32(p) << 32 | (uint64_t) be32(p + 4);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* Formats into one of the fixed text fields of image_info.  Truncation is
 * accepted here, unlike st_snprintf(): these texts are for people, and a
 * shortened one is still right as far as it goes. */
static void info_vprintf(char *dst, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void info_vprintf(char *dst, size_t size, const char *fmt, va_list ap)
{
    if (vsnprintf(dst, size, fmt, ap) < 0)
        dst[0] = '\0';
}

static void detail(struct image_info *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void detail(struct image_info *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    info_vprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
}

/* Marks the content malformed.  The first problem found is the one kept. */
static void bad(struct image_info *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct image_info *out, const char *fmt, ...)
{
    va_list ap;
    if (out->malformed)
        return;
    out->malformed = true;
    va_start(ap, fmt);
    info_vprintf(out->problem, sizeof(out->problem), fmt, ap);
    va_end(ap);
}

/* Sets the virtual size, which the image service stores as an int64. */
static void set_vsize(struct image_info *out, uint64_t v)
{
    if (v > INT64_MAX) {
        bad(out, "%s virtual size is too large", image_format_name(out->format));
        return;
    }
    out->virtual_size = v;
}

/* ---- qcow2 --------------------------------------------------------------- */

#define QCOW2_V2_HDR 72
#define QCOW2_V3_HDR 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
/* dirty, corrupt, external data file, compression type, extended L2 */
#define QCOW2_INCOMPAT_KNOWN 0x1full
#define QCOW2_EXT_END 0u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* As qcow2_do_open(): the fixed header, then the header extensions between
 * the header and the backing file name (or the end of the first cluster). */
static int inspect_qcow2(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t h[QCOW2_V3_HDR];
    uint32_t version, cluster_bits, hdr_len = QCOW2_V2_HDR, crypt;
    uint64_t bfo, cluster, incompat = 0, end, off;
    int rc;

    out->format = IMAGE_FMT_QCOW2;
    rc = rd(in, 0, h, QCOW2_V2_HDR);
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "qcow2 header is truncated");
        return rc;
    }
    version = be32(h + 4);
    if (version != 2 && version != 3) {
        bad(out, "qcow2 version %u is not supported", version);
        return 0;
    }
    if (version == 3) {
        rc = rd(in, 0, h, QCOW2_V3_HDR);
        if (rc <= 0) {
            if (rc == 0)
                bad(out, "qcow2 header is truncated");
            return rc;
        }
        incompat = be64(h + 72);
        hdr_len = be32(h + 100);
    }
    bfo = be64(h + 8);
    cluster_bits = be32(h + 20);
    crypt = be32(h + 32);
    out->has_backing_file = bfo != 0;
    out->encrypted = crypt != 0;
    set_vsize(out, be64(h + 24));
    if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        bad(out, "qcow2 cluster_bits %u is out of range (%d to %d)", cluster_bits,
            QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
        return 0;
    }
    cluster = 1ull << cluster_bits;
    detail(out, "qcow2 version %u, cluster size %llu%s%s", version, (unsigned long long) cluster,
           bfo ? ", backing file" : "", crypt ? ", encrypted" : "");
    if (version == 3) {
        uint32_t refcount_order = be32(h + 96);
        if (incompat & QCOW2_INCOMPAT_DATA_FILE)
            out->has_data_file = true;
        if (incompat & ~QCOW2_INCOMPAT_KNOWN)
            bad(out, "qcow2 image has unknown incompatible features 0x%llx",
                (unsigned long long) (incompat & ~QCOW2_INCOMPAT_KNOWN));
        if (hdr_len < QCOW2_V3_HDR || hdr_len > cluster)
            bad(out, "qcow2 header length %u is invalid", hdr_len);
        else if (hdr_len > in->r->size)
            bad(out, "qcow2 header is truncated");
        if (refcount_order > 6)
            bad(out, "qcow2 refcount order %u is invalid", refcount_order);
    }
    if (out->malformed)
        return 0;

    /* Header extensions, as qcow2_read_extensions() walks them.  Each step
     * moves at least 8 bytes within one cluster (2 MiB at most), so the walk
     * ends; past the end of the data qemu reads zeroes, the end marker. */
    end = bfo && bfo < cluster ? bfo : cluster;
    for (off = hdr_len; off < end;) {
        uint8_t e[8];
        uint32_t type, len;
        if (rdz(in, off, e, sizeof(e)) < 0)
            return -1;
        type = be32(e);
        len = be32(e + 4);
        off += sizeof(e);
        if (off > end || len > end - off) {
            bad(out, "qcow2 header extension 0x%08x is too large", type);
            return 0;
        }
        if (type == QCOW2_EXT_END)
            break;
        if (type == QCOW2_EXT_DATA_FILE)
            out->has_data_file = true;
        off += ((uint64_t) len + 7) & ~7ull;
    }
    return 0;
}

/* ---- qed ----------------------------------------------------------------- */

#define QED_HDR 64
#define QED_F_BACKING_FILE 1ull
#define QED_F_KNOWN 7ull /* backing file, need check, no backing format probe */

static int inspect_qed(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t h[QED_HDR];
    uint64_t features;
    int rc;

    out->format = IMAGE_FMT_QED;
    rc = rd(in, 0, h, sizeof(h));
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "qed header is truncated");
        return rc;
    }
    features = le64(h + 16);
    out->has_backing_file = (features & QED_F_BACKING_FILE) != 0;
    set_vsize(out, le64(h + 48));
    if (features & ~QED_F_KNOWN)
        bad(out, "qed image has unknown features 0x%llx",
            (unsigned long long) (features & ~QED_F_KNOWN));
    detail(out, "qed, cluster size %u%s", le32(h + 4),
           out->has_backing_file ? ", backing file" : "");
    return 0;
}

/* ---- luks ---------------------------------------------------------------- */

static int inspect_luks(struct insp *in, const uint8_t *head, size_t n)
{
    struct image_info *out = in->out;

    out->format = IMAGE_FMT_LUKS;
    out->encrypted = true;
    if (n < 8) {
        bad(out, "luks header is truncated");
        return 0;
    }
    detail(out, "luks version %u", be16(head + 6));
    return 0;
}

/* ---- vmdk ---------------------------------------------------------------- */

#define VMDK_SECTOR 512ull
#define VMDK_HDR 512
/* qemu's vmdk_read_desc() reads a descriptor of at most 1 MiB - 1, as a C
 * string: the text ends at the first NUL. */
#define VMDK_DESC_MAX ((1u << 20) - 1)
#define VMDK_DESC_CHUNK 4096
#define VMDK_GD_AT_END UINT64_MAX
#define VMDK_MARKER_EOS 0
#define VMDK_MARKER_FOOTER 3

/* What the descriptor says, and how it is read. */
enum vmdk_mode {
    VMDK_EMBEDDED,  /* in a sparse file with a capacity: qemu ignores its
                       extents, the one extent is the file itself */
    VMDK_DESC_FILE, /* a descriptor qemu opens as such: every extent
                       naming a file is another file */
};

struct vmdk_desc {
    bool has_create_type;
    char create_type[32];
    unsigned extents;      /* extent lines */
    unsigned file_extents; /* extent lines naming a file */
    bool first_is_self;    /* the first extent is SPARSE with a bare name */
    uint64_t sectors;      /* sum of the extent sizes */
    bool parent;           /* parentCID other than ffffffff */
};

static bool desc_space(char c)
{
    /* isspace() in the C locale without '\n', which ends a line */
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads the descriptor text at 'off' into 'text' the way qemu does: up to
 * the first NUL, at most VMDK_DESC_MAX bytes, never past the end. */
static int vmdk_read_desc(struct insp *in, uint64_t off, struct st_buf *text)
{
    uint64_t size = in->r->size;
    char chunk[VMDK_DESC_CHUNK];

    while (text->len < VMDK_DESC_MAX && off < size) {
        size_t n = VMDK_DESC_MAX - text->len;
        const char *nul;
        if (n > sizeof(chunk))
            n = sizeof(chunk);
        if (n > size - off)
            n = (size_t) (size - off);
        if (rd(in, off, chunk, n) < 0)
            return -1;
        nul = memchr(chunk, '\0', n);
        if (nul) {
            st_buf_add(text, chunk, (size_t) (nul - chunk));
            break;
        }
        st_buf_add(text, chunk, n);
        off += n;
    }
    return 0;
}

static bool token_is(const char *b, size_t n, const char *word)
{
    return strlen(word) == n && !strncasecmp(b, word, n);
}

/* A header field "key = value": remembers createType and parentCID. */
static void vmdk_field(const char *key, size_t klen, const char *v, size_t vlen,
                       struct vmdk_desc *d, struct image_info *out)
{
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
        v++;
        vlen -= 2;
    }
    if (token_is(key, klen, "createType")) {
        if (d->has_create_type) {
            bad(out, "vmdk descriptor has more than one createType");
            return;
        }
        if (vlen >= sizeof(d->create_type)) {
            bad(out, "vmdk createType is too long");
            return;
        }
        memcpy(d->create_type, v, vlen);
        d->create_type[vlen] = '\0';
        d->has_create_type = true;
    } else if (token_is(key, klen, "parentCID")) {
        if (!token_is(v, vlen, "ffffffff"))
            d->parent = true;
    } else if (token_is(key, klen, "parentFileNameHint")) {
        d->parent = true;
    }
}

/* An extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
static void vmdk_extent(const char *b, const char *e, struct vmdk_desc *d, struct image_info *out)
{
    const char *p = b, *type, *name = NULL;
    size_t tlen, nlen = 0;
    uint64_t sectors = 0;

    while (p < e && !desc_space(*p)) /* the access mode */
        p++;
    while (p < e && desc_space(*p))
        p++;
    if (p == e || *p < '0' || *p > '9')
        goto invalid;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        if (sectors > (UINT64_MAX - 9) / 10)
            goto invalid;
        sectors = sectors * 10 + (uint64_t) (*p - '0');
    }
    if (p == e || !desc_space(*p))
        goto invalid;
    while (p < e && desc_space(*p))
        p++;
    type = p;
    while (p < e && !desc_space(*p))
        p++;
    tlen = (size_t) (p - type);
    if (tlen == 0)
        goto invalid;
    while (p < e && desc_space(*p))
        p++;
    if (p < e) {
        const char *q;
        if (*p != '"')
            goto invalid;
        name = ++p;
        q = memchr(p, '"', (size_t) (e - p));
        if (!q)
            goto invalid;
        nlen = (size_t) (q - name);
        p = q + 1;
        while (p < e && desc_space(*p))
            p++;
        while (p < e && *p >= '0' && *p <= '9') /* flat extent offset */
            p++;
        while (p < e && desc_space(*p))
            p++;
        if (p != e)
            goto invalid;
    }

    if (d->extents == 0)
        d->first_is_self = name && nlen > 0 && token_is(type, tlen, "SPARSE") &&
                           !memchr(name, '/', nlen) && !memchr(name, '\\', nlen);
    d->extents++;
    if (name)
        d->file_extents++;
    if (sectors > UINT64_MAX - d->sectors) {
        bad(out, "vmdk extent sizes are too large");
        return;
    }
    d->sectors += sectors;
    return;
invalid:
    bad(out, "vmdk descriptor has an invalid extent line");
}

/* Parses descriptor text, cautiously as Glance does: every line must be
 * blank, a comment, a ddb entry, a "key=value" header field or an extent
 * line; anything else makes the descriptor malformed.  Every line qemu's
 * vmdk_parse_extents() takes for an extent ("RW ...") is an extent line
 * here, so no extent escapes the count. */
static void vmdk_parse_desc(const char *t, size_t n, struct vmdk_desc *d, struct image_info *out)
{
    size_t i = 0;

    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char) t[k];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') ||
            c >= 0x7f) {
            bad(out, "vmdk descriptor is not ASCII text");
            return;
        }
    }
    while (i < n && !out->malformed) {
        const char *nl = memchr(t + i, '\n', n - i);
        size_t line_end = nl ? (size_t) (nl - t) : n;
        const char *b = t + i, *e = t + line_end, *eq, *sp;
        i = line_end + 1;

        while (b < e && desc_space(*b))
            b++;
        while (e > b && desc_space(e[-1]))
            e--;
        if (b == e || *b == '#')
            continue;
        if (e - b >= 3 && !strncasecmp(b, "ddb", 3))
            continue;
        eq = memchr(b, '=', (size_t) (e - b));
        if (eq) {
            const char *ke = eq, *v = eq + 1;
            while (ke > b && desc_space(ke[-1]))
                ke--;
            for (sp = b; sp < ke && !desc_space(*sp); sp++)
                ;
            if (ke > b && sp == ke) {
                while (v < e && desc_space(*v))
                    v++;
                vmdk_field(b, (size_t) (ke - b), v, (size_t) (e - v), d, out);
                continue;
            }
        }
        for (sp = b; sp < e && !desc_space(*sp); sp++)
            ;
        if (token_is(b, (size_t) (sp - b), "RW") || token_is(b, (size_t) (sp - b), "RDONLY") ||
            token_is(b, (size_t) (sp - b), "NOACCESS")) {
            vmdk_extent(b, e, d, out);
            continue;
        }
        bad(out, "vmdk descriptor has an unsupported line");
    }
}

/* Reads and judges the descriptor at 'off' ('mode' says how qemu uses it).
 * Sets has_backing_file, has_foreign_extents and subformat; returns the
 * sum of the extent sizes in *sectors. */
static int vmdk_desc(struct insp *in, uint64_t off, enum vmdk_mode mode, uint64_t *sectors)
{
    struct image_info *out = in->out;
    struct st_buf text = ST_BUF_INIT;
    struct vmdk_desc d;

    memset(&d, 0, sizeof(d));
    if (vmdk_read_desc(in, off, &text) < 0)
        return -1;
    /* qemu's vmdk_parent_open() takes a backing file from the first
     * "parentFileNameHint" anywhere in the text, even in a comment. */
    if (strcasestr(text.buf, "parentFileNameHint"))
        out->has_backing_file = true;
    vmdk_parse_desc(text.buf, text.len, &d, out);
    st_buf_release(&text);
    if (out->malformed)
        return 0;
    if (d.parent)
        out->has_backing_file = true;
    if (d.has_create_type)
        memcpy(out->subformat, d.create_type, sizeof(out->subformat));
    if (d.extents == 0) {
        bad(out, "vmdk descriptor has no extents");
        return 0;
    }
    if (mode == VMDK_DESC_FILE)
        out->has_foreign_extents = d.file_extents > 0;
    else
        out->has_foreign_extents = d.extents > 1 || !d.first_is_self;
    *sectors = d.sectors;
    detail(out, "vmdk %s, %u extent%s%s", d.has_create_type ? d.create_type : "(no createType)",
           d.extents, d.extents == 1 ? "" : "s",
           out->has_foreign_extents ? ", naming other files" : "");
    return 0;
}

/* A sparse extent with its own header ("KDMV"), as vmdk_open_vmdk4(). */
static int inspect_vmdk4(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t h[VMDK_HDR];
    uint32_t version;
    uint64_t capacity, desc_sector, desc_sectors, sectors = 0;
    int rc;

    rc = rd(in, 0, h, sizeof(h));
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vmdk header is truncated");
        return rc;
    }
    version = le32(h + 4);
    capacity = le64(h + 12);
    desc_sector = le64(h + 28);
    desc_sectors = le64(h + 36);
    if (version < 1 || version > 3) {
        bad(out, "vmdk version %u is not supported", version);
        return 0;
    }
    /* The embedded descriptor follows the header, as qemu writes it (and
     * as Glance demands). */
    if (desc_sector != 1 || desc_sectors == 0) {
        bad(out, "vmdk embedded descriptor is not at offset 512");
        return 0;
    }
    if (capacity != 0 && le64(h + 56) == VMDK_GD_AT_END) {
        /* The footer, at one sector before the end-of-stream marker, takes
         * precedence over the header (its capacity included).  qemu counts
         * the size in whole sectors, rounding up. */
        uint8_t f[3 * VMDK_SECTOR];
        uint64_t end = in->r->size + (VMDK_SECTOR - 1);
        end -= end % VMDK_SECTOR;
        if (end < sizeof(f) + VMDK_HDR) {
            bad(out, "vmdk footer is missing");
            return 0;
        }
        if (rdz(in, end - sizeof(f), f, sizeof(f)) < 0)
            return -1;
        if (memcmp(f + 512, "KDMV", 4) || le32(f + 8) != 0 || le32(f + 12) != VMDK_MARKER_FOOTER ||
            le64(f + 1024) != 0 || le32(f + 1032) != 0 || le32(f + 1036) != VMDK_MARKER_EOS) {
            bad(out, "vmdk footer is invalid");
            return 0;
        }
        version = le32(f + 512 + 4);
        if (version < 1 || version > 3) {
            bad(out, "vmdk version %u is not supported", version);
            return 0;
        }
        capacity = le64(f + 512 + 12);
        if (capacity == 0) {
            bad(out, "vmdk footer has no capacity");
            return 0;
        }
    }
    /* With a capacity of zero in the header, qemu opens the embedded
     * descriptor as a descriptor file (before looking at any footer) and
     * follows its extents. */
    if (vmdk_desc(in, VMDK_SECTOR, capacity ? VMDK_EMBEDDED : VMDK_DESC_FILE, &sectors) < 0)
        return -1;
    if (capacity > (uint64_t) INT64_MAX / VMDK_SECTOR)
        bad(out, "vmdk capacity is too large");
    else
        set_vsize(out, capacity * VMDK_SECTOR);
    return 0;
}

/* A VMware 3 sparse extent ("COWD"): qemu reads no descriptor from it but
 * still looks for a parent name at offset 512. */
static int inspect_vmdk3(struct insp *in)
{
    struct image_info *out = in->out;
    struct st_buf text = ST_BUF_INIT;
    uint8_t h[16];
    int rc;

    rc = rd(in, 0, h, sizeof(h));
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vmdk header is truncated");
        return rc;
    }
    set_vsize(out, (uint64_t) le32(h + 12) * VMDK_SECTOR);
    memcpy(out->subformat, "COWD", 5);
    if (vmdk_read_desc(in, VMDK_SECTOR, &text) < 0)
        return -1;
    if (strcasestr(text.buf, "parentFileNameHint"))
        out->has_backing_file = true;
    st_buf_release(&text);
    detail(out, "vmdk version 3 sparse extent (COWD)");
    return 0;
}

/* A text descriptor file: qemu opens every extent it names. */
static int inspect_vmdk_text(struct insp *in)
{
    struct image_info *out = in->out;
    uint64_t sectors = 0;

    out->format = IMAGE_FMT_VMDK;
    if (vmdk_desc(in, 0, VMDK_DESC_FILE, &sectors) < 0)
        return -1;
    if (!out->malformed) {
        if (sectors > (uint64_t) INT64_MAX / VMDK_SECTOR)
            bad(out, "vmdk capacity is too large");
        else
            set_vsize(out, sectors * VMDK_SECTOR);
    }
    return 0;
}

/* Whether 'b' is a vmdk text descriptor: it says so in its first line, or
 * qemu's vmdk_probe() would take it for one (comment and blank lines, then
 * "version=1", "=2" or "=3"). */
static bool vmdk_text_probe(const uint8_t *b, size_t n)
{
    static const char sig[] = "# Disk DescriptorFile";
    static const char *const versions[] = {"version=1\n", "version=2\n", "version=3\n",
                                           "version=1\r\n", "version=2\r\n", "version=3\r\n"};
    const char *p = (const char *) b, *end = p + n;

    if (n >= sizeof(sig) - 1 && !strncasecmp(p, sig, sizeof(sig) - 1))
        return true;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            if (p < end)
                p++;
            continue;
        }
        if (*p == ' ') {
            while (p < end && *p == ' ')
                p++;
            if (p < end && *p == '\r')
                p++;
            if (p == end || *p != '\n')
                return false;
            p++;
            continue;
        }
        for (size_t i = 0; i < ST_ARRAY_SIZE(versions); i++) {
            size_t len = strlen(versions[i]);
            if ((size_t) (end - p) >= len && !memcmp(p, versions[i], len))
                return true;
        }
        return false;
    }
    return false;
}

/* ---- vdi ----------------------------------------------------------------- */

#define VDI_SIGNATURE 0xbeda107fu
#define VDI_SIG_OFF 0x40
#define VDI_HDR 0x180
#define VDI_VERSION_1_1 0x00010001u

static int inspect_vdi(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t h[VDI_HDR];
    uint32_t version, type;
    int rc;

    out->format = IMAGE_FMT_VDI;
    rc = rd(in, 0, h, sizeof(h));
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vdi header is truncated");
        return rc;
    }
    version = le32(h + 0x44);
    type = le32(h + 0x4c);
    set_vsize(out, le64(h + 0x170));
    if (version != VDI_VERSION_1_1) {
        bad(out, "vdi version %u.%u is not supported", version >> 16, version & 0xffff);
        return 0;
    }
    switch (type) {
    case 1:
        memcpy(out->subformat, "dynamic", 8);
        break;
    case 2:
        memcpy(out->subformat, "static", 7);
        break;
    case 3: /* undo and differencing images have a parent (by uuid) */
        memcpy(out->subformat, "undo", 5);
        out->has_backing_file = true;
        break;
    case 4:
        memcpy(out->subformat, "diff", 5);
        out->has_backing_file = true;
        break;
    default:
        bad(out, "vdi image type %u is not supported", type);
        return 0;
    }
    detail(out, "vdi %s, block size %u", out->subformat, le32(h + 0x178));
    return 0;
}

/* ---- vhd ----------------------------------------------------------------- */

#define VHD_FOOTER 512

/* The footer at 'off': a copy at the start (dynamic and differencing
 * disks) or the only one, in the last 512 bytes (fixed disks). */
static int inspect_vhd(struct insp *in, uint64_t off)
{
    struct image_info *out = in->out;
    uint8_t f[VHD_FOOTER];
    uint32_t type;
    int rc;

    out->format = IMAGE_FMT_VHD;
    rc = rd(in, off, f, sizeof(f));
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vhd footer is truncated");
        return rc;
    }
    type = be32(f + 60);
    set_vsize(out, be64(f + 48));
    switch (type) {
    case 2:
        memcpy(out->subformat, "fixed", 6);
        break;
    case 3:
        memcpy(out->subformat, "dynamic", 8);
        break;
    case 4:
        memcpy(out->subformat, "differencing", 13);
        out->has_backing_file = true;
        break;
    default:
        bad(out, "vhd disk type %u is not supported", type);
        return 0;
    }
    detail(out, "vhd %s disk", out->subformat);
    return 0;
}

/* ---- vhdx ---------------------------------------------------------------- */

#define VHDX_REGION_TABLE 0x30000ull /* the one qemu reads */
#define VHDX_REGION_SIG 0x69676572u  /* "regi" */
#define VHDX_ENTRY 32
#define VHDX_MAX_ENTRIES 2047
#define VHDX_HAS_PARENT 0x2u

/* GUIDs as stored: the first three fields little-endian. */
static const uint8_t vhdx_metadata_region[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                                 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const uint8_t vhdx_file_params[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                             0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};
static const uint8_t vhdx_disk_size[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                           0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
static const uint8_t vhdx_parent_locator[16] = {0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                                0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c};

/* Reads the 8 bytes of metadata item 'e' (a table entry) of the metadata
 * region at 'meta'.  Returns 1 when read, 0 when malformed, -1 on error. */
static int vhdx_item(struct insp *in, uint64_t meta, const uint8_t *e, uint8_t v[8],
                     const char *what)
{
    uint64_t off;
    int rc;

    if (le32(e + 20) < 8) {
        bad(in->out, "vhdx %s metadata item is too short", what);
        return 0;
    }
    if (__builtin_add_overflow(meta, (uint64_t) le32(e + 16), &off)) {
        bad(in->out, "vhdx %s metadata item is out of range", what);
        return 0;
    }
    rc = rd(in, off, v, 8);
    if (rc == 0)
        bad(in->out, "vhdx %s metadata item is truncated", what);
    return rc;
}

static int inspect_vhdx(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t h[VHDX_ENTRY], v[8];
    uint32_t count;
    uint64_t meta = 0;
    bool have_meta = false, have_size = false, have_params = false;
    int rc;

    out->format = IMAGE_FMT_VHDX;
    rc = rd(in, VHDX_REGION_TABLE, h, 16);
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vhdx region table is truncated");
        return rc;
    }
    if (le32(h) != VHDX_REGION_SIG) {
        bad(out, "vhdx region table signature is missing");
        return 0;
    }
    count = le32(h + 8);
    if (count > VHDX_MAX_ENTRIES) {
        bad(out, "vhdx region table has %u entries (limit %d)", count, VHDX_MAX_ENTRIES);
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        rc = rd(in, VHDX_REGION_TABLE + 16 + (uint64_t) i * VHDX_ENTRY, h, VHDX_ENTRY);
        if (rc <= 0) {
            if (rc == 0)
                bad(out, "vhdx region table is truncated");
            return rc;
        }
        if (memcmp(h, vhdx_metadata_region, 16))
            continue;
        if (have_meta) {
            bad(out, "vhdx has more than one metadata region");
            return 0;
        }
        have_meta = true;
        meta = le64(h + 16);
    }
    if (!have_meta) {
        bad(out, "vhdx metadata region is missing");
        return 0;
    }

    rc = rd(in, meta, h, VHDX_ENTRY);
    if (rc <= 0) {
        if (rc == 0)
            bad(out, "vhdx metadata table is truncated");
        return rc;
    }
    if (memcmp(h, "metadata", 8)) {
        bad(out, "vhdx metadata table signature is missing");
        return 0;
    }
    count = le16(h + 10);
    if (count > VHDX_MAX_ENTRIES) {
        bad(out, "vhdx metadata table has %u entries (limit %d)", count, VHDX_MAX_ENTRIES);
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint64_t off;
        if (__builtin_add_overflow(meta, VHDX_ENTRY + (uint64_t) i * VHDX_ENTRY, &off)) {
            bad(out, "vhdx metadata table is out of range");
            return 0;
        }
        rc = rd(in, off, h, VHDX_ENTRY);
        if (rc <= 0) {
            if (rc == 0)
                bad(out, "vhdx metadata table is truncated");
            return rc;
        }
        if (!memcmp(h, vhdx_disk_size, 16)) {
            if (have_size) {
                bad(out, "vhdx has more than one virtual disk size");
                return 0;
            }
            have_size = true;
            rc = vhdx_item(in, meta, h, v, "virtual disk size");
            if (rc <= 0)
                return rc;
            set_vsize(out, le64(v));
        } else if (!memcmp(h, vhdx_file_params, 16)) {
            if (have_params) {
                bad(out, "vhdx has more than one file parameters item");
                return 0;
            }
            have_params = true;
            rc = vhdx_item(in, meta, h, v, "file parameters");
            if (rc <= 0)
                return rc;
            if (le32(v + 4) & VHDX_HAS_PARENT)
                out->has_backing_file = true;
        } else if (!memcmp(h, vhdx_parent_locator, 16)) {
            out->has_backing_file = true;
        }
    }
    if (!have_size) {
        bad(out, "vhdx virtual disk size is missing");
        return 0;
    }
    detail(out, "vhdx%s", out->has_backing_file ? " with a parent" : "");
    return 0;
}

/* ---- iso ----------------------------------------------------------------- */

#define ISO_VD_START 0x8000ull /* volume descriptors from sector 16 */
#define ISO_SECTOR 2048ull
#define ISO_MAX_VD 64 /* volume descriptors looked at */

/* Whether a volume descriptor with 'id' sits at 'off' (type byte, then the
 * five-byte standard identifier). */
static int iso_vd(struct insp *in, uint64_t off, const char *id, uint8_t *type)
{
    uint8_t h[6];
    int rc = rd(in, off, h, sizeof(h));
    if (rc <= 0)
        return rc;
    *type = h[0];
    return !memcmp(h + 1, id, 5);
}

/* Returns 1 if the content is ISO 9660 or UDF (and fills 'out'), 0 if not,
 * -1 on error. */
static int inspect_iso(struct insp *in)
{
    struct image_info *out = in->out;
    uint8_t type, pvd[136];
    int rc;

    rc = iso_vd(in, ISO_VD_START, "CD001", &type);
    if (rc < 0)
        return -1;
    if (rc) {
        out->format = IMAGE_FMT_ISO;
        for (unsigned i = 0; i < ISO_MAX_VD; i++) {
            uint64_t off = ISO_VD_START + i * ISO_SECTOR;
            rc = rd(in, off, pvd, sizeof(pvd));
            if (rc < 0)
                return -1;
            if (rc == 0 || memcmp(pvd + 1, "CD001", 5) || pvd[0] == 255)
                break;
            if (pvd[0] == 1) {
                /* both-endian fields: the little-endian half comes first */
                uint32_t blocks = le32(pvd + 80);
                uint16_t block_size = le16(pvd + 128);
                set_vsize(out, (uint64_t) blocks * block_size);
                detail(out, "ISO 9660, %u blocks of %u bytes", blocks, block_size);
                return 1;
            }
        }
        set_vsize(out, in->r->size);
        detail(out, "ISO 9660 without a primary volume descriptor");
        return 1;
    }
    /* UDF: a volume recognition sequence "BEA01", "NSR02"/"NSR03" */
    rc = iso_vd(in, ISO_VD_START, "BEA01", &type);
    if (rc <= 0)
        return rc;
    for (unsigned i = 1; i < ISO_MAX_VD; i++) {
        uint64_t off = ISO_VD_START + i * ISO_SECTOR;
        static const char *const ids[] = {"NSR02", "NSR03", "TEA01"};
        for (size_t k = 0; k < ST_ARRAY_SIZE(ids); k++) {
            rc = iso_vd(in, off, ids[k], &type);
            if (rc < 0)
                return -1;
            if (rc && k < 2) {
                out->format = IMAGE_FMT_ISO;
                set_vsize(out, in->r->size);
                detail(out, "UDF");
                return 1;
            }
            if (rc) /* the end of the recognition sequence */
                return 0;
        }
    }
    return 0;
}

/* ---- kernels and ramdisks ------------------------------------------------ */

static bool probe_kernel(const uint8_t *h, size_t n, struct image_info *out)
{
    if (n >= 0x206 && !memcmp(h + 0x202, "HdrS", 4)) {
        if (n >= 0x208)
            detail(out, "x86 bzImage, boot protocol %u.%02u", h[0x207], h[0x206]);
        else
            detail(out, "x86 bzImage");
        return true;
    }
    if (n >= 5 && !memcmp(h, "\177ELF", 4) && (h[4] == 1 || h[4] == 2)) {
        detail(out, "ELF %d-bit kernel", h[4] == 1 ? 32 : 64);
        return true;
    }
    if (n >= 0x3c && !memcmp(h + 0x38, "ARM\x64", 4)) {
        detail(out, "arm64 Image");
        return true;
    }
    return false;
}

static bool probe_ramdisk(const uint8_t *h, size_t n, struct image_info *out)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } magics[] = {
        {"070701", 6, "cpio (newc)"},
        {"070702", 6, "cpio (crc)"},
        {"070707", 6, "cpio (odc)"},
        {"\x1f\x8b", 2, "gzip"},
        {"\xfd\x37\x7a\x58\x5a\x00", 6, "xz"},
        {"\x28\xb5\x2f\xfd", 4, "zstd"},
        {"\x02\x21\x4c\x18", 4, "lz4 (legacy)"},
        {"BZh", 3, "bzip2"},
    };
    for (size_t i = 0; i < ST_ARRAY_SIZE(magics); i++) {
        if (n >= magics[i].len && !memcmp(h, magics[i].magic, magics[i].len)) {
            detail(out, "ramdisk, %s", magics[i].what);
            return true;
        }
    }
    return false;
}

/* ---- detection ----------------------------------------------------------- */

/* The disk formats with a signature at a fixed place near the start.  Only
 * the vdi signature (at 0x40) can coexist with another one; content that
 * matches two is refused rather than guessed at. */
static const struct {
    enum image_format format;
    size_t off;
    const char *magic;
    size_t len;
} disk_magics[] = {
    {IMAGE_FMT_QCOW2, 0, "QFI\xfb", 4},
    {IMAGE_FMT_QED, 0, "QED\0", 4},
    {IMAGE_FMT_VMDK, 0, "KDMV", 4},
    {IMAGE_FMT_VMDK, 0, "COWD", 4},
    {IMAGE_FMT_VHDX, 0, "vhdxfile", 8},
    {IMAGE_FMT_VHD, 0, "conectix", 8},
    {IMAGE_FMT_LUKS, 0, "LUKS\xba\xbe", 6},
    {IMAGE_FMT_VDI, VDI_SIG_OFF, "\x7f\x10\xda\xbe", 4},
};

static int inspect_disk(struct insp *in, size_t which, const uint8_t *head, size_t n)
{
    switch (disk_magics[which].format) {
    case IMAGE_FMT_QCOW2:
        return inspect_qcow2(in);
    case IMAGE_FMT_QED:
        return inspect_qed(in);
    case IMAGE_FMT_VMDK:
        in->out->format = IMAGE_FMT_VMDK;
        return head[0] == 'K' ? inspect_vmdk4(in) : inspect_vmdk3(in);
    case IMAGE_FMT_VHDX:
        return inspect_vhdx(in);
    case IMAGE_FMT_VHD:
        return inspect_vhd(in, 0);
    case IMAGE_FMT_LUKS:
        return inspect_luks(in, head, n);
    case IMAGE_FMT_VDI:
        return inspect_vdi(in);
    default:
        break;
    }
    assert(!"disk_magics[] names a format without a parser");
    return 0;
}

static int detect(struct insp *in, const uint8_t *head, size_t n)
{
    struct image_info *out = in->out;
    uint64_t size = in->r->size;
    size_t found = ST_ARRAY_SIZE(disk_magics), second = found;
    uint8_t tail[8];
    int rc;

    for (size_t i = 0; i < ST_ARRAY_SIZE(disk_magics); i++) {
        if (n < disk_magics[i].off + disk_magics[i].len ||
            memcmp(head + disk_magics[i].off, disk_magics[i].magic, disk_magics[i].len))
            continue;
        if (found == ST_ARRAY_SIZE(disk_magics))
            found = i;
        else
            second = i;
    }
    if (found < ST_ARRAY_SIZE(disk_magics)) {
        if (inspect_disk(in, found, head, n) < 0)
            return -1;
        if (second < ST_ARRAY_SIZE(disk_magics))
            bad(out, "Image content is both %s and %s",
                image_format_name(disk_magics[found].format),
                image_format_name(disk_magics[second].format));
        return 0;
    }
    if (vmdk_text_probe(head, n))
        return inspect_vmdk_text(in);
    rc = inspect_iso(in);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (size >= VHD_FOOTER) {
        rc = rd(in, size - VHD_FOOTER, tail, sizeof(tail));
        if (rc < 0)
            return -1;
        if (rc && !memcmp(tail, "conectix", 8))
            return inspect_vhd(in, size - VHD_FOOTER);
    }
    if (probe_kernel(head, n, out))
        out->format = IMAGE_FMT_KERNEL;
    else if (probe_ramdisk(head, n, out))
        out->format = IMAGE_FMT_RAMDISK;
    else {
        out->format = IMAGE_FMT_RAW;
        detail(out, "raw data");
    }
    set_vsize(out, size);
    return 0;
}

int image_inspect(const struct image_reader *r, struct image_info *out, struct st_err *err)
{
    struct insp in = {r, out, err};
    uint8_t head[HEAD_LEN];
    size_t n;

    assert(r && r->read_at && out);
    memset(out, 0, sizeof(*out));
    out->format = IMAGE_FMT_UNKNOWN;
    n = r->size < sizeof(head) ? (size_t) r->size : sizeof(head);
    if (rd(&in, 0, head, n) < 0 || detect(&in, head, n) < 0) {
        memset(out, 0, sizeof(*out));
        out->format = IMAGE_FMT_UNKNOWN;
        bad(out, "image data could not be read");
        return -1;
    }
    if (out->malformed) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s", out->problem);
        return -1;
    }
    return 0;
}

static int fd_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
    int fd = *(const int *) ctx;
    ssize_t n;

    if (off > INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (len > INT_MAX)
        len = INT_MAX;
    n = pread(fd, buf, len, (off_t) off);
    return (int) n;
}

int image_inspect_fd(int fd, struct image_info *out, struct st_err *err)
{
    struct image_reader r = {fd_read_at, &fd, 0};
    struct stat st;

    memset(out, 0, sizeof(*out));
    out->format = IMAGE_FMT_UNKNOWN;
    if (fstat(fd, &st) < 0) {
        bad(out, "image data could not be read");
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot inspect image data");
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        bad(out, "image data could not be read");
        st_err_set(err, ST_ERR_INTERNAL, "cannot inspect image data: not a regular file");
        return -1;
    }
    r.size = (uint64_t) st.st_size;
    return image_inspect(&r, out, err);
}

struct mem_reader {
    const uint8_t *p;
    size_t len;
};

static int mem_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct mem_reader *m = ctx;

    if (off >= m->len)
        return 0;
    if (len > m->len - off)
        len = (size_t) (m->len - off);
    if (len > INT_MAX)
        len = INT_MAX;
    memcpy(buf, m->p + off, len);
    return (int) len;
}

int image_inspect_buf(const void *buf, size_t len, struct image_info *out, struct st_err *err)
{
    struct mem_reader m = {buf, len};
    struct image_reader r = {mem_read_at, &m, len};

    return image_inspect(&r, out, err);
}

/* ---- the verdict --------------------------------------------------------- */

enum disk_rule {
    RULE_SAME,           /* the content is that format */
    RULE_NOT_DISK,       /* raw, ami: anything but a structured disk format */
    RULE_RAMDISK_OR_RAW, /* ari: a ramdisk, or unrecognised content */
};

static const struct {
    const char *name;
    enum disk_rule rule;
    enum image_format format; /* for RULE_SAME */
} disk_formats[] = {
    {"raw", RULE_NOT_DISK, IMAGE_FMT_RAW},
    {"ami", RULE_NOT_DISK, IMAGE_FMT_RAW},
    {"ari", RULE_RAMDISK_OR_RAW, IMAGE_FMT_RAMDISK},
    {"aki", RULE_SAME, IMAGE_FMT_KERNEL},
    {"iso", RULE_SAME, IMAGE_FMT_ISO},
    {"qcow2", RULE_SAME, IMAGE_FMT_QCOW2},
    {"vmdk", RULE_SAME, IMAGE_FMT_VMDK},
    {"vdi", RULE_SAME, IMAGE_FMT_VDI},
    {"vhd", RULE_SAME, IMAGE_FMT_VHD},
    {"vhdx", RULE_SAME, IMAGE_FMT_VHDX},
};

/* The vmdk subformats Glance and Nova accept: a single file holding both
 * the descriptor and the data. */
static const char *const vmdk_types[] = {"monolithicSparse", "streamOptimized"};

static bool is_disk(enum image_format f)
{
    return (unsigned) f < ST_ARRAY_SIZE(formats) && formats[f].disk;
}

int image_check(const struct image_info *info, const char *disk_format, struct st_err *err)
{
    const char *content;
    size_t i;
    bool ok;

    assert(info);
    for (i = 0; i < ST_ARRAY_SIZE(disk_formats); i++)
        if (st_streq(disk_format, disk_formats[i].name))
            break;
    if (i == ST_ARRAY_SIZE(disk_formats)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "disk_format '%.64s' is not supported",
                   disk_format ? disk_format : "");
        return -1;
    }
    if (info->format == IMAGE_FMT_UNKNOWN) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Image content could not be inspected");
        return -1;
    }
    if (info->malformed) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s", info->problem);
        return -1;
    }
    content = image_format_name(info->format);
    switch (disk_formats[i].rule) {
    case RULE_NOT_DISK:
        ok = !is_disk(info->format);
        break;
    case RULE_RAMDISK_OR_RAW:
        ok = info->format == IMAGE_FMT_RAMDISK || info->format == IMAGE_FMT_RAW;
        break;
    default:
        ok = info->format == disk_formats[i].format;
        break;
    }
    if (!ok) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Image content is %s but disk_format is %s", content,
                   disk_format);
        return -1;
    }
    if (info->has_backing_file) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s images with a backing file are not allowed",
                   content);
        return -1;
    }
    if (info->has_data_file) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s images with an external data file are not allowed",
                   content);
        return -1;
    }
    if (info->has_foreign_extents) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "vmdk descriptor refers to other files");
        return -1;
    }
    if (info->format == IMAGE_FMT_VMDK) {
        for (i = 0; i < ST_ARRAY_SIZE(vmdk_types); i++)
            if (st_streq(info->subformat, vmdk_types[i]))
                return 0;
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "vmdk images of type '%s' are not allowed (only monolithicSparse and "
                   "streamOptimized)",
                   info->subformat[0] ? info->subformat : "unknown");
        return -1;
    }
    return 0;
}
