/* HMAC-SHA256 and base64 for webhook signing. libcrypto does the
 * cryptography and the base64 alphabet; this file only adds the padding
 * rules EVP_DecodeBlock() leaves to its caller and the Standard Webhooks
 * framing. */
#include "driftwatch/hmac.h"

#include "driftwatch/error.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dw_base64_encode(const unsigned char *data, size_t len)
{
    if (len > (size_t)INT32_MAX / 2) {
        /* EVP_EncodeBlock() takes an int length; nothing here comes near. */
        fprintf(stderr, "driftwatch: base64 input too large\n");
        abort();
    }
    /* 4 output characters per 3 input bytes, rounded up, plus the NUL that
     * EVP_EncodeBlock() writes. */
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = dw_malloc(cap);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int dw_base64_decode(const char *s, unsigned char *out, size_t outcap, size_t *outlen)
{
    size_t n = strlen(s);
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_b64((unsigned char)s[i]))
            return DW_ERR_PARSE;
    /* n data characters: n % 4 == 1 can never be produced by an encoder. */
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return DW_ERR_PARSE;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > outcap)
        return DW_ERR_LIMIT;
    /* EVP_DecodeBlock() wants whole quanta: re-pad into a scratch buffer.
     * It then reports 3 bytes per quantum, padding included, so the true
     * length is the one computed above. */
    size_t q = (n + 3) / 4 * 4;
    unsigned char *tmp = dw_malloc(q + 1);
    unsigned char *dec = dw_malloc(q / 4 * 3 + 1);
    memcpy(tmp, s, n);
    memset(tmp + n, '=', q - n);
    tmp[q] = '\0';
    int r = EVP_DecodeBlock(dec, tmp, (int)q);
    int rc = 0;
    if (r < 0 || (size_t)r < len)
        rc = DW_ERR_PARSE;
    else {
        memcpy(out, dec, len);
        *outlen = len;
    }
    free(tmp);
    free(dec);
    return rc;
}

void dw_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[DW_HMAC_SHA256_LEN])
{
    unsigned int mdlen = DW_HMAC_SHA256_LEN;
    /* HMAC() only fails on allocation failure inside libcrypto. */
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &mdlen)) {
        fprintf(stderr, "driftwatch: HMAC-SHA256 failed (out of memory in libcrypto)\n");
        abort();
    }
}

int dw_webhook_secret_decode(const char *secret, unsigned char *key, size_t keycap, size_t *keylen)
{
    if (!secret)
        return DW_ERR_PARSE;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    if (!*secret)
        return DW_ERR_PARSE;
    if (keycap > DW_WEBHOOK_SECRET_MAX)
        keycap = DW_WEBHOOK_SECRET_MAX;
    return dw_base64_decode(secret, key, keycap, keylen);
}

int dw_webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                    size_t body_len, char *out, size_t outlen)
{
    unsigned char key[DW_WEBHOOK_SECRET_MAX];
    size_t keylen = 0;
    int rc = dw_webhook_secret_decode(secret, key, sizeof key, &keylen);
    if (rc)
        return rc;
    if (outlen < DW_WEBHOOK_SIGNATURE_LEN)
        return DW_ERR_LIMIT;
    /* The signed content is "<id>.<timestamp>.<body>", exactly as the
     * receiver rebuilds it from the headers and the raw body. */
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, ".%lld.", (long long)timestamp);
    size_t idlen = strlen(id);
    size_t mlen = idlen + (size_t)pl + body_len;
    char *msg = dw_malloc(mlen + 1);
    memcpy(msg, id, idlen);
    memcpy(msg + idlen, prefix, (size_t)pl);
    if (body_len)
        memcpy(msg + idlen + (size_t)pl, body, body_len);
    unsigned char mac[DW_HMAC_SHA256_LEN];
    dw_hmac_sha256(key, keylen, msg, mlen, mac);
    free(msg);
    char *b64 = dw_base64_encode(mac, sizeof mac);
    snprintf(out, outlen, "v1,%s", b64);
    free(b64);
    return 0;
}
