/*
 * RTMPS: TLS (1.2 and later, OpenSSL) between the socket and the RTMP
 * state machine.  A connection accepted on the RTMPS listener gets an SSL
 * with memory BIOs: bytes read from the socket go into it and the
 * plaintext comes out for cir_rtmp_conn_feed; what the connection sends is
 * encrypted into a buffer the libuv layer writes.  The certificate and key
 * are loaded at start and again on SIGHUP (a failed reload keeps the old
 * ones; connections keep the context they started with).
 *
 * Tested by tests/integration/ingest_rtmps.test.mjs.
 */
#include "server_internal.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PLAIN_CHUNK (16 * 1024) /* one TLS record at most */

/* The newest OpenSSL error as text, for a log line. */
static const char *
tls_error_text(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();

    if (e == 0) {
        snprintf(buf, size, "unknown error");
    } else {
        ERR_error_string_n(e, buf, size);
    }
    ERR_clear_error();
    return buf;
}

static SSL_CTX *
new_context(const cir_ingest_config_t *cfg, char *err, size_t size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        tls_error_text(err, size);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* no renegotiation: a client cannot make us redo the handshake */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_certificate_key,
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_error_text(err, size);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
srv_tls_load(cir_ingest_t *s)
{
    char err[256];
    SSL_CTX *ctx;

    if (s->cfg.tls_certificate[0] == '\0' ||
        s->cfg.tls_certificate_key[0] == '\0') {
        cir_log_error(&s->log, "rtmps_port is set: tls_certificate and "
                               "tls_certificate_key are needed");
        return CIR_EINVAL;
    }
    ctx = new_context(&s->cfg, err, sizeof(err));
    if (ctx == NULL) {
        cir_log_error(&s->log, "TLS certificate %s, key %s: %s%s",
                      s->cfg.tls_certificate, s->cfg.tls_certificate_key, err,
                      s->tls_ctx ? " (the ones loaded before stay)" : "");
        return CIR_EINVAL;
    }
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = ctx;
    return 0;
}

void
srv_tls_free(cir_ingest_t *s)
{
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
}

int
srv_tls_conn_new(conn_t *c)
{
    BIO *rbio, *wbio;

    c->tls = SSL_new(c->srv->tls_ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    if (c->tls == NULL || rbio == NULL || wbio == NULL) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(c->tls);
        c->tls = NULL;
        return CIR_ENOMEM;
    }
    SSL_set_bio(c->tls, rbio, wbio);
    SSL_set_accept_state(c->tls);
    cir_buf_init(&c->tls_out, OUT_MAX + 64 * 1024);
    return 0;
}

void
srv_tls_conn_free(conn_t *c)
{
    if (c->tls != NULL) {
        SSL_free(c->tls);
        c->tls = NULL;
        cir_buf_free(&c->tls_out);
    }
}

/* What OpenSSL wrote (handshake records, encrypted data) into tls_out. */
static int
drain_output(conn_t *c)
{
    BIO *wbio = SSL_get_wbio(c->tls);
    char chunk[PLAIN_CHUNK];
    int n, ret;

    while ((n = BIO_read(wbio, chunk, sizeof(chunk))) > 0) {
        if ((ret = cir_buf_append(&c->tls_out, chunk, (size_t)n)) < 0) {
            return ret;
        }
    }
    return 0;
}

/* A failed SSL call: 0 if it only wants more bytes, else an error
 * (logged: a client speaking plain RTMP to the RTMPS port, a bad
 * handshake, a close_notify). */
static int
check(conn_t *c, int r)
{
    char err[256];
    int e = SSL_get_error(c->tls, r);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        cir_log_debug(&c->log, "%s: TLS closed by the peer", c->peer);
        return CIR_ECANCELED;
    }
    cir_log_warn(&c->log, "%s: TLS: %s", c->peer,
                 e == SSL_ERROR_SSL ? tls_error_text(err, sizeof(err))
                                    : "connection error");
    ERR_clear_error();
    return CIR_EPARSE;
}

int
srv_tls_read(conn_t *c, const uint8_t *p, size_t n, srv_tls_plain_fn fn)
{
    uint8_t plain[PLAIN_CHUNK];
    int r, ret;

    if (BIO_write(SSL_get_rbio(c->tls), p, (int)n) != (int)n) {
        return CIR_ENOMEM;
    }
    for (;;) {
        r = SSL_read(c->tls, plain, sizeof(plain));
        if (r <= 0) {
            ret = check(c, r);
            break;
        }
        if ((ret = fn(c, plain, (size_t)r)) < 0) {
            break;
        }
    }
    /* the handshake's records, and alerts, go out even when no plaintext
     * came in */
    if (drain_output(c) < 0) {
        return CIR_ENOMEM;
    }
    return ret;
}

int
srv_tls_write(conn_t *c, cir_buf_t *plain)
{
    int r, ret;

    if (plain->len > 0) {
        r = SSL_write(c->tls, plain->data, (int)plain->len);
        if (r > 0) {
            /* a memory BIO takes it all (no partial writes) */
            cir_buf_reset(plain);
        } else if ((ret = check(c, r)) < 0) {
            return ret;
        } /* else: mid-handshake, kept for the next flush */
    }
    return drain_output(c);
}
