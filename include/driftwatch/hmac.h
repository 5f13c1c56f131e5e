/* HMAC-SHA256 and base64 (OpenSSL's libcrypto), and the Standard Webhooks
 * signature (https://www.standardwebhooks.com/) built from them. */
#ifndef DRIFTWATCH_HMAC_H
#define DRIFTWATCH_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define DW_HMAC_SHA256_LEN 32
/* Bounds: a decoded webhook secret holds at most this many bytes (the spec
 * suggests 24..64); longer secrets are refused. */
#define DW_WEBHOOK_SECRET_MAX 256
/* "v1," + base64 of 32 bytes (44 characters) + NUL. */
#define DW_WEBHOOK_SIGNATURE_LEN 48

/* Standard base64 with padding. Returns a NUL-terminated string the caller
 * frees with free(). */
char *dw_base64_encode(const unsigned char *data, size_t len);

/* Decodes standard base64 (padding optional; no whitespace) into out, which
 * has room for outcap bytes; *outlen is the decoded length. Returns 0,
 * DW_ERR_PARSE for characters outside the alphabet or a bad length, or
 * DW_ERR_LIMIT when outcap is too small. */
int dw_base64_decode(const char *s, unsigned char *out, size_t outcap, size_t *outlen);

/* out = HMAC-SHA256(key, msg). */
void dw_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[DW_HMAC_SHA256_LEN]);

/* Decodes a webhook secret: base64, optionally prefixed "whsec_". Returns
 * 0, DW_ERR_PARSE (not base64, or empty) or DW_ERR_LIMIT (longer than
 * DW_WEBHOOK_SECRET_MAX bytes). */
int dw_webhook_secret_decode(const char *secret, unsigned char *key, size_t keycap, size_t *keylen);

/* Writes the webhook-signature header value "v1,<base64(HMAC-SHA256(key,
 * id "." timestamp "." body))>" into out (at least DW_WEBHOOK_SIGNATURE_LEN
 * bytes). Returns 0, or the errors of dw_webhook_secret_decode(), or
 * DW_ERR_LIMIT when outlen is too small. */
int dw_webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                    size_t body_len, char *out, size_t outlen);

#endif
