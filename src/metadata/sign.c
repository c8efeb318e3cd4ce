/* sign.c (metadata) - HMAC-SHA256 of the instance identity (see sign.h). */
#include "metadata/sign.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/buf.h"
#include "common/banned.h"

void mds_sign(const char *secret, const char *network_id, const char *address,
              char out[MDS_SIG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct st_buf id = ST_BUF_INIT;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    st_buf_addf(&id, "%s %s", network_id, address);
    if (!HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) id.buf, id.len,
              mac, &n) ||
        n != MDS_SIG_LEN / 2)
        n = 0;
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * n] = '\0';
    st_buf_release(&id);
}

bool mds_verify(const char *secret, const char *network_id, const char *address, const char *sig)
{
    char want[MDS_SIG_LEN + 1];
    if (!secret || !*secret || !network_id || !*network_id || !address || !*address || !sig ||
        strlen(sig) != MDS_SIG_LEN)
        return false;
    mds_sign(secret, network_id, address, want);
    return strlen(want) == MDS_SIG_LEN && CRYPTO_memcmp(want, sig, MDS_SIG_LEN) == 0;
}
