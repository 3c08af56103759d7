/* ingest/src/rtmp_client.c: the publishing client driven against the
 * server state machine (ingest/src/rtmp_conn.c) in memory, and its URLs. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_rtmp.h"

/* ---- URLs ---------------------------------------------------------------- */

Test(rtmp_url, parses_host_port_app_key)
{
    cir_rtmp_url_t u;
    char err[256];

    cr_assert_eq(cir_rtmp_url_parse("rtmp://example.com:1936/live/abc?t=1", &u,
                                    err, sizeof(err)),
                 0);
    cr_assert_str_eq(u.host, "example.com");
    cr_assert_eq(u.port, 1936);
    cr_assert_str_eq(u.app, "live");
    cr_assert_str_eq(u.key, "abc?t=1");
    cr_assert_str_eq(u.tc_url, "rtmp://example.com:1936/live");
    cr_assert_str_eq(u.redacted, "rtmp://example.com:1936/live/***");
    cir_rtmp_url_set_key(&u, "longer-key-1");
    cr_assert_str_eq(u.redacted, "rtmp://example.com:1936/live/lo***");
    cr_assert_eq(
        cir_rtmp_url_parse("rtmp://[::1]/app/inst/k", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 1935);
    cr_assert_str_eq(u.app, "app/inst");
    cr_assert_str_eq(u.key, "k");
    cr_assert_str_eq(u.tc_url, "rtmp://[::1]:1935/app/inst");
    /* no key: the pushed stream's own */
    cr_assert_eq(cir_rtmp_url_parse("rtmp://h/live/", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.key, "");
    cir_rtmp_url_set_key(&u, "cam9");
    cr_assert_str_eq(u.key, "cam9");
}

Test(rtmp_url, rtmps_is_tls_on_443_unless_given)
{
    cir_rtmp_url_t u;
    char err[256];

    cr_assert_eq(cir_rtmp_url_parse("rtmps://live-api-s.example.com/rtmp/k1",
                                    &u, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(u.tls, 1);
    cr_assert_eq(u.port, 443);
    cr_assert_str_eq(u.host, "live-api-s.example.com");
    cr_assert_str_eq(u.tc_url, "rtmps://live-api-s.example.com:443/rtmp");
    cr_assert_eq(cir_rtmp_url_parse("rtmps://127.0.0.1:1936/live/", &u, err,
                                    sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(u.port, 1936);
    cr_assert_str_eq(u.tc_url, "rtmps://127.0.0.1:1936/live");
    cr_assert_eq(cir_rtmp_url_parse("rtmp://h/live/k", &u, err, sizeof(err)),
                 0);
    cr_assert_eq(u.tls, 0);
    cr_assert_eq(u.port, 1935);
}

Test(rtmp_url, refuses_bad_urls_naming_them)
{
    static const char *const bad[] = {
        "http://h/live/k",    "rtmp://h/live",    "rtmp://h:0/live/k",
        "rtmp://h:99999/a/k", "rtmp:///live/k",   "rtmp://h//k",
        "rtmp://h/li ve/k",   "rtmp://h$/live/k", "rtmp://h:12a/live/k",
        "rtmpt://h/live/k",   "rtmps://h/live",   "rtmps://h:0/live/k"};
    cir_rtmp_url_t u;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(cir_rtmp_url_parse(bad[i], &u, err, sizeof(err)),
                     CIR_EINVAL, "%s", bad[i]);
        cr_assert_not_null(strstr(err, bad[i]), "%s: %s", bad[i], err);
    }
}

Test(rtmp_url, lists_are_bounded)
{
    cir_rtmp_url_t u[3];
    size_t n;
    char err[256];

    cr_assert_eq(cir_rtmp_url_list_parse(" rtmp://a/live/1, rtmp://b:2/x/2 ", u,
                                         3, &n, err, sizeof(err)),
                 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(u[1].host, "b");
    cr_assert_eq(cir_rtmp_url_list_parse("", u, 3, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(cir_rtmp_url_list_parse("rtmp://a/l/1 rtmp://a/l/2 "
                                         "rtmp://a/l/3 rtmp://a/l/4",
                                         u, 3, &n, err, sizeof(err)),
                 CIR_ELIMIT);
    cr_assert_not_null(strstr(err, "rtmp://a/l/4"), "%s", err);
    cr_assert_eq(cir_rtmp_url_list_parse("rtmp://a/l/1,rtmp://bad", u, 3, &n,
                                         err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_not_null(strstr(err, "rtmp://bad"), "%s", err);
}

/* ---- the client against the server, in memory ---------------------------- */

typedef struct {
    cir_rtmp_conn_t *srv;
    cir_rtmp_publish_result_t answer;
    char key[64];
    int publishes, metadata, video, audio;
    double width;
    uint32_t ts[16];
    int video_key[16];
    uint8_t first_byte[16];
    size_t nmedia;
} server_events_t;

static int
ev_publish(void *o, const char *key, const char *query)
{
    server_events_t *e = o;

    (void)query;
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->publishes++;
    return cir_rtmp_conn_publish_reply(e->srv, e->answer);
}

static int
ev_metadata(void *o, const cir_amf_t *meta)
{
    server_events_t *e = o;

    e->metadata++;
    e->width = cir_amf_get_number(meta, "width", -1);
    return 0;
}

static int
ev_media(void *o, int video, uint32_t ts, const uint8_t *p, size_t n)
{
    server_events_t *e = o;

    cr_assert_gt(n, 0);
    if (e->nmedia < 16) {
        e->ts[e->nmedia] = ts;
        e->video_key[e->nmedia] = video;
        e->first_byte[e->nmedia] = p[0];
        e->nmedia++;
    }
    e->video += video;
    e->audio += !video;
    return 0;
}

typedef struct {
    cir_rtmp_client_t *cl;
    server_events_t ev;
    int client_ret, server_ret;
} pair_t;

static void
pair_open(pair_t *pr, const char *url, cir_rtmp_publish_result_t answer)
{
    cir_rtmp_limits_t lim;
    cir_rtmp_url_t u;
    uint8_t rnd[1528];
    char err[256];
    cir_rtmp_handler_t h = {ev_publish, ev_metadata, ev_media,
                            NULL,       NULL,        NULL};

    memset(pr, 0, sizeof(*pr));
    memset(rnd, 0x42, sizeof(rnd));
    pr->ev.answer = answer;
    h.opaque = &pr->ev;
    cir_rtmp_limits_default(&lim);
    cr_assert_eq(cir_rtmp_conn_new(&pr->ev.srv, &lim, &h, 1, rnd, 1 << 24), 0);
    cr_assert_eq(cir_rtmp_url_parse(url, &u, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_rtmp_client_new(&pr->cl, &u, 2, rnd), 0);
}

static void
pair_close(pair_t *pr)
{
    cir_rtmp_client_free(&pr->cl);
    cir_rtmp_conn_free(&pr->ev.srv);
}

/* Moves bytes both ways, a few at a time (every split point of the
 * handshake and the chunks gets exercised), until neither side has any. */
static void
pump(pair_t *pr, size_t step)
{
    for (int round = 0; round < 100; round++) {
        cir_buf_t *a = cir_rtmp_client_output(pr->cl);
        cir_buf_t *b = cir_rtmp_conn_output(pr->ev.srv);
        size_t moved = a->len + b->len;

        if (moved == 0) {
            return;
        }
        for (size_t i = 0; i < a->len && pr->server_ret == 0; i += step) {
            size_t k = a->len - i < step ? a->len - i : step;
            pr->server_ret =
                cir_rtmp_conn_feed(pr->ev.srv, (const uint8_t *)a->data + i, k);
        }
        cir_buf_reset(a);
        for (size_t i = 0; i < b->len && pr->client_ret == 0; i += step) {
            size_t k = b->len - i < step ? b->len - i : step;
            pr->client_ret =
                cir_rtmp_client_feed(pr->cl, (const uint8_t *)b->data + i, k);
        }
        cir_buf_reset(b);
    }
    cr_assert_fail("the two sides never went quiet");
}

Test(rtmp_client, publishes_and_media_arrives_with_timestamps)
{
    static const uint8_t avc_seq[] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f};
    static const uint8_t aac_seq[] = {0xaf, 0, 0x12, 0x10};
    uint8_t frame[10000];
    cir_amf_t meta = {.type = CIR_AMF_ECMA_ARRAY}, props[2];
    char *keys[2] = {"width", "encoder"};
    cir_buf_t enc;
    pair_t pr;

    pair_open(&pr, "rtmp://origin/live/cam1", CIR_RTMP_PUBLISH_OK);
    cr_assert_eq(cir_rtmp_client_state(pr.cl), CIR_RTMP_CLIENT_HANDSHAKE);
    pump(&pr, 7);
    cr_assert_eq(pr.client_ret, 0, "%s", cir_rtmp_client_error(pr.cl));
    cr_assert_eq(pr.server_ret, 0);
    cr_assert_eq(cir_rtmp_client_state(pr.cl), CIR_RTMP_CLIENT_LIVE);
    cr_assert_eq(pr.ev.publishes, 1);
    cr_assert_str_eq(pr.ev.key, "cam1");

    /* metadata as decoded, then sequence headers and frames */
    props[0] = (cir_amf_t){.type = CIR_AMF_NUMBER, .number = 1280};
    props[1] = (cir_amf_t){.type = CIR_AMF_STRING, .str = "x", .len = 1};
    meta.count = 2;
    meta.keys = keys;
    meta.items = props;
    cir_buf_init(&enc, 4096);
    cr_assert_eq(cir_rtmp_metadata_encode(&enc, &meta), 0);
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_DATA_AMF0, 0,
                                      (const uint8_t *)enc.data, enc.len),
                 0);
    cir_buf_free(&enc);
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_VIDEO, 0, avc_seq,
                                      sizeof(avc_seq)),
                 0);
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_AUDIO, 0, aac_seq,
                                      sizeof(aac_seq)),
                 0);
    memset(frame, 0xab, sizeof(frame));
    frame[0] = 0x17;
    frame[1] = 1;
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_VIDEO, 40, frame,
                                      sizeof(frame)),
                 0);
    frame[0] = 0x27;
    /* past 24 bits: an extended timestamp */
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_VIDEO, 0x1000000 + 7,
                                      frame, 100),
                 0);
    pump(&pr, 1000);
    cr_assert_eq(pr.server_ret, 0);
    cr_assert_eq(pr.ev.metadata, 1);
    cr_assert_eq(pr.ev.width, 1280);
    cr_assert_eq(pr.ev.nmedia, 4);
    cr_assert_eq(pr.ev.video, 3);
    cr_assert_eq(pr.ev.audio, 1);
    cr_assert_eq(pr.ev.ts[2], 40);
    cr_assert_eq(pr.ev.first_byte[2], 0x17);
    cr_assert_eq(pr.ev.ts[3], 0x1000000 + 7);
    cr_assert_eq(pr.ev.first_byte[3], 0x27);
    pair_close(&pr);
}

Test(rtmp_client, a_refused_publish_is_an_error)
{
    pair_t pr;

    pair_open(&pr, "rtmp://origin/live/cam1", CIR_RTMP_PUBLISH_UNAUTHORIZED);
    pump(&pr, 4096);
    cr_assert_eq(pr.client_ret, CIR_EAUTH);
    cr_assert_eq(cir_rtmp_client_state(pr.cl), CIR_RTMP_CLIENT_FAILED);
    cr_assert_not_null(
        strstr(cir_rtmp_client_error(pr.cl), "NetStream.Publish.Unauthorized"),
        "%s", cir_rtmp_client_error(pr.cl));
    cr_assert_eq(cir_rtmp_client_send(pr.cl, CIR_RTMP_MSG_VIDEO, 0,
                                      (const uint8_t *)"x", 1),
                 CIR_EINVAL);
    pair_close(&pr);
}

Test(rtmp_client, a_wrong_application_is_refused_at_connect)
{
    pair_t pr;

    pair_open(&pr, "rtmp://origin/nope/cam1", CIR_RTMP_PUBLISH_OK);
    pump(&pr, 4096);
    cr_assert_eq(pr.client_ret, CIR_EAUTH);
    cr_assert_not_null(
        strstr(cir_rtmp_client_error(pr.cl), "NetConnection.Connect.Rejected"),
        "%s", cir_rtmp_client_error(pr.cl));
    cr_assert_eq(pr.ev.publishes, 0);
    pair_close(&pr);
}

Test(rtmp_client, not_an_rtmp_server)
{
    cir_rtmp_client_t *cl;
    cir_rtmp_url_t u;
    uint8_t rnd[1528] = {0};
    char err[256];

    cr_assert_eq(cir_rtmp_url_parse("rtmp://h/live/k", &u, err, sizeof(err)),
                 0);
    cr_assert_eq(cir_rtmp_client_new(&cl, &u, 0, rnd), 0);
    cr_assert_eq(cir_rtmp_client_output(cl)->len, 1 + CIR_RTMP_HS_SIZE);
    cr_assert_eq(cir_rtmp_client_feed(cl, (const uint8_t *)"HTTP/1.1", 8),
                 CIR_EPARSE);
    cr_assert_eq(cir_rtmp_client_state(cl), CIR_RTMP_CLIENT_FAILED);
    cir_rtmp_client_free(&cl);
}

Test(rtmp_client, metadata_values_round_trip)
{
    static const uint8_t enc[] = {CIR_AMF_ECMA_ARRAY,
                                  0,
                                  0,
                                  0,
                                  3,
                                  0,
                                  1,
                                  'a',
                                  CIR_AMF_BOOLEAN,
                                  1,
                                  0,
                                  1,
                                  'b',
                                  CIR_AMF_STRICT_ARRAY,
                                  0,
                                  0,
                                  0,
                                  1,
                                  CIR_AMF_NULL,
                                  0,
                                  1,
                                  'c',
                                  CIR_AMF_OBJECT,
                                  0,
                                  1,
                                  'd',
                                  CIR_AMF_STRING,
                                  0,
                                  1,
                                  'z',
                                  0,
                                  0,
                                  CIR_AMF_OBJECT_END,
                                  0,
                                  0,
                                  CIR_AMF_OBJECT_END};
    cir_amf_limits_t lim = {8, 100, 100};
    cir_amf_t v;
    cir_buf_t b;
    size_t used;

    cr_assert_eq(cir_amf0_decode(enc, sizeof(enc), &lim, &v, &used), 0);
    cir_buf_init(&b, 1024);
    cr_assert_eq(cir_amf0_put_value(&b, &v), 0);
    cr_assert_eq(b.len, sizeof(enc));
    cr_assert_eq(memcmp(b.data, enc, sizeof(enc)), 0);
    cir_buf_free(&b);
    cir_amf_clear(&v);
}
