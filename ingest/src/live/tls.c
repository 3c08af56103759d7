/*
 * TLS (1.2 and later, OpenSSL) between a socket and an RTMP state machine,
 * both ways: RTMPS connections accepted by the ingest (the server side)
 * and rtmps:// push destinations (the client side, push.c).  A session is
 * an SSL with memory BIOs: bytes read from the socket go into it and the
 * plaintext comes out for the state machine; what the state machine sends
 * is encrypted into a buffer the libuv layer writes.
 *
 * The server's certificate and key are loaded at start and again on
 * SIGHUP (a failed reload keeps the old ones; connections keep the context
 * they started with).  The client context verifies the destination's
 * certificate against the system store, or push_tls_ca_file, and its name
 * (the URL's host, also sent as SNI); push_tls_verify=0 turns that off.
 *
 * Tested by tests/integration/ingest_rtmps.test.mjs (the server side) and
 * tests/integration/ingest_push_reach.test.mjs (the client side).
 */
#include "server_internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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

/* What both sides want: TLS 1.2 at least, no renegotiation (a peer cannot
 * make us redo the handshake), no compression. */
static SSL_CTX *
base_context(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);

    if (ctx != NULL) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx,
                            SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        /* the plaintext buffer (a cir_buf_t) may move between retries */
        SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    return ctx;
}

static SSL_CTX *
new_context(const cir_ingest_config_t *cfg, char *err, size_t size)
{
    SSL_CTX *ctx = base_context(TLS_server_method());

    if (ctx == NULL) {
        tls_error_text(err, size);
        return NULL;
    }
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

int
srv_tls_client_load(cir_ingest_t *s)
{
    const char *ca = s->cfg.push_tls_ca_file;
    char err[256];
    SSL_CTX *ctx = base_context(TLS_client_method());

    if (ctx == NULL) {
        cir_log_error(&s->log, "push: TLS: %s",
                      tls_error_text(err, sizeof(err)));
        return CIR_ENOMEM;
    }
    if (!s->cfg.push_tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        cir_log_warn(&s->log, "push: push_tls_verify is 0: the certificates "
                              "of rtmps:// destinations are NOT verified");
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((ca[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                           : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            cir_log_error(&s->log, "push: TLS certificate authorities %s: %s",
                          ca[0] != '\0' ? ca : "(the system's)",
                          tls_error_text(err, sizeof(err)));
            SSL_CTX_free(ctx);
            return CIR_EINVAL;
        }
    }
    SSL_CTX_free(s->tls_client_ctx);
    s->tls_client_ctx = ctx;
    return 0;
}

void
srv_tls_free(cir_ingest_t *s)
{
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
    SSL_CTX_free(s->tls_client_ctx);
    s->tls_client_ctx = NULL;
}

/* ---- sessions ------------------------------------------------------------
 */

/* The client's: SNI (for a name, not an address: RFC 6066) and the name
 * or address the certificate must carry. */
static int
client_names(SSL *ssl, const char *host)
{
    unsigned char addr[16];
    int literal = inet_pton(AF_INET, host, addr) == 1 ||
                  inet_pton(AF_INET6, host, addr) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

    if (literal) {
        return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : CIR_EINVAL;
    }
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
        X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1) {
        return CIR_EINVAL;
    }
    return 0;
}

int
srv_tls_open(srv_tls_t *t, struct ssl_ctx_st *ctx, const char *host,
             size_t out_max)
{
    BIO *rbio, *wbio;

    memset(t, 0, sizeof(*t));
    t->ssl = SSL_new(ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || rbio == NULL || wbio == NULL) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(t->ssl);
        t->ssl = NULL;
        ERR_clear_error();
        return CIR_ENOMEM;
    }
    SSL_set_bio(t->ssl, rbio, wbio);
    if (host == NULL) {
        SSL_set_accept_state(t->ssl);
    } else {
        if (client_names(t->ssl, host) < 0) {
            SSL_free(t->ssl);
            t->ssl = NULL;
            ERR_clear_error();
            return CIR_EINVAL;
        }
        SSL_set_connect_state(t->ssl);
    }
    cir_buf_init(&t->out, out_max);
    return 0;
}

void
srv_tls_close(srv_tls_t *t)
{
    if (t->ssl != NULL) {
        SSL_free(t->ssl);
        t->ssl = NULL;
        cir_buf_free(&t->out);
    }
}

/* What OpenSSL wrote (handshake records, encrypted data) into t->out. */
static int
drain_output(srv_tls_t *t)
{
    BIO *wbio = SSL_get_wbio(t->ssl);
    char chunk[PLAIN_CHUNK];
    int n, ret;

    while ((n = BIO_read(wbio, chunk, sizeof(chunk))) > 0) {
        if ((ret = cir_buf_append(&t->out, chunk, (size_t)n)) < 0) {
            return ret;
        }
    }
    return 0;
}

/* A failed SSL call: 0 if it only wants more bytes, else an error with
 * t->error saying why (a peer speaking plain RTMP, a bad handshake, a
 * certificate that does not verify, a close_notify). */
static int
check(srv_tls_t *t, int r)
{
    char err[200];
    int e = SSL_get_error(t->ssl, r);
    long verify = SSL_get_verify_result(t->ssl);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->error, sizeof(t->error), "TLS closed by the peer");
        return CIR_ECANCELED;
    }
    if (e == SSL_ERROR_SSL && verify != X509_V_OK) {
        snprintf(t->error, sizeof(t->error),
                 "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
    } else {
        snprintf(t->error, sizeof(t->error), "TLS: %s",
                 e == SSL_ERROR_SSL ? tls_error_text(err, sizeof(err))
                                    : "connection error");
    }
    ERR_clear_error();
    return CIR_EPARSE;
}

int
srv_tls_feed(srv_tls_t *t, const uint8_t *p, size_t n, srv_tls_plain_fn fn,
             void *opaque)
{
    uint8_t plain[PLAIN_CHUNK];
    int r, ret;

    if (BIO_write(SSL_get_rbio(t->ssl), p, (int)n) != (int)n) {
        return CIR_ENOMEM;
    }
    for (;;) {
        r = SSL_read(t->ssl, plain, sizeof(plain));
        if (r <= 0) {
            ret = check(t, r);
            break;
        }
        if ((ret = fn(opaque, plain, (size_t)r)) < 0) {
            break;
        }
    }
    /* the handshake's records, and alerts, go out even when no plaintext
     * came in */
    if (drain_output(t) < 0) {
        return CIR_ENOMEM;
    }
    return ret;
}

int
srv_tls_send(srv_tls_t *t, cir_buf_t *plain)
{
    int r, ret;

    if (plain->len > 0) {
        r = SSL_write(t->ssl, plain->data, (int)plain->len);
        if (r > 0) {
            /* a memory BIO takes it all (no partial writes) */
            cir_buf_reset(plain);
        } else if ((ret = check(t, r)) < 0) {
            drain_output(t); /* an alert */
            return ret;
        } /* else: mid-handshake, kept for the next flush */
    }
    return drain_output(t);
}

/* ---- the server side's connections ---------------------------------------
 */

int
srv_tls_conn_new(conn_t *c)
{
    if ((c->tls = malloc(sizeof(*c->tls))) == NULL) {
        return CIR_ENOMEM;
    }
    if (srv_tls_open(c->tls, c->srv->tls_ctx, NULL, OUT_MAX + 64 * 1024) < 0) {
        free(c->tls);
        c->tls = NULL;
        return CIR_ENOMEM;
    }
    return 0;
}

void
srv_tls_conn_free(conn_t *c)
{
    if (c->tls != NULL) {
        srv_tls_close(c->tls);
        free(c->tls);
        c->tls = NULL;
    }
}

/* A failure worth a log line (not the peer's close_notify). */
static int
conn_logged(conn_t *c, int ret)
{
    if (ret == CIR_ECANCELED) {
        cir_log_debug(&c->log, "%s: %s", c->peer, c->tls->error);
    } else if (ret < 0 && c->tls->error[0] != '\0') {
        cir_log_warn(&c->log, "%s: %s", c->peer, c->tls->error);
    }
    c->tls->error[0] = '\0';
    return ret;
}

typedef struct {
    conn_t *c;
    srv_tls_conn_plain_fn fn;
} conn_plain_t;

static int
conn_plain(void *opaque, const uint8_t *p, size_t n)
{
    conn_plain_t *cp = opaque;

    return cp->fn(cp->c, p, n);
}

int
srv_tls_read(conn_t *c, const uint8_t *p, size_t n, srv_tls_conn_plain_fn fn)
{
    conn_plain_t cp = {c, fn};

    return conn_logged(c, srv_tls_feed(c->tls, p, n, conn_plain, &cp));
}

int
srv_tls_write(conn_t *c, cir_buf_t *plain)
{
    return conn_logged(c, srv_tls_send(c->tls, plain));
}
