/* ingest/src/rtmp_conn.c: the RTMP connection state machine, fed with
 * hand-made streams and with streams captured from ffmpeg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_rtmp.h"
#include "rtmp_fixture.h"

/* ---- the connection: hand-made and captured streams --------------------- */

typedef struct {
    char key[64], query[256];
    int publishes, unpublishes, metadata, video, audio, seq_video, seq_audio;
    double width;
    uint32_t last_video_ts;
    cir_rtmp_conn_t *c;
    cir_rtmp_publish_result_t answer;
} events_t;

static int
ev_publish(void *o, const char *key, const char *query)
{
    events_t *e = o;

    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->query, sizeof(e->query), "%s", query);
    e->publishes++;
    return cir_rtmp_conn_publish_reply(e->c, e->answer);
}

static int
ev_metadata(void *o, const cir_amf_t *meta)
{
    events_t *e = o;

    e->metadata++;
    e->width = cir_amf_get_number(meta, "width", -1);
    return 0;
}

static int
ev_media(void *o, int video, uint32_t ts, const uint8_t *p, size_t n)
{
    events_t *e = o;
    cir_flv_tag_t t;

    if (video) {
        cr_assert_eq(cir_flv_parse_video(p, n, &t), 0);
        cr_assert_eq(t.codec, CIR_FLV_CODEC_AVC);
        e->video++;
        e->seq_video += t.packet == CIR_FLV_SEQUENCE_START;
        e->last_video_ts = ts;
    } else {
        cr_assert_eq(cir_flv_parse_audio(p, n, &t), 0);
        cr_assert_eq(t.codec, CIR_FLV_CODEC_AAC);
        e->audio++;
        e->seq_audio += t.packet == CIR_FLV_SEQUENCE_START;
    }
    return 0;
}

static void
ev_unpublish(void *o)
{
    ((events_t *)o)->unpublishes++;
}

static uint8_t *
load_capture(const char *name, size_t *n)
{
    char path[1024];
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    FILE *f;
    uint8_t *p;
    long len;

    snprintf(path, sizeof(path), "%s/tests/captures/%s", src ? src : ".", name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)len);
    cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static cir_rtmp_conn_t *
new_conn(events_t *e)
{
    cir_rtmp_limits_t lim;
    cir_rtmp_handler_t h = {ev_publish,   ev_metadata, ev_media,
                            ev_unpublish, e,           NULL};
    uint8_t rnd[1528] = {0};
    cir_rtmp_conn_t *c = NULL;

    cir_rtmp_limits_default(&lim);
    cr_assert_eq(cir_rtmp_conn_new(&c, &lim, &h, 0, rnd, 1 << 20), 0);
    e->c = c;
    return c;
}

/* Does the output hold an AMF string with this text? */
static int
out_has(cir_rtmp_conn_t *c, const char *text)
{
    cir_buf_t *o = cir_rtmp_conn_output(c);

    return memmem(o->data, o->len, text, strlen(text)) != NULL;
}

static void
replay_capture(const char *name, size_t step, events_t *e)
{
    size_t n;
    uint8_t *p = load_capture(name, &n);
    cir_rtmp_conn_t *c = new_conn(e);
    int ret = 0, connected = 0, started = 0;

    for (size_t pos = 0; pos < n; pos += step) {
        size_t k = n - pos < step ? n - pos : step;
        ret = cir_rtmp_conn_feed(c, p + pos, k);
        cr_assert_eq(ret, 0, "at %zu: %s", pos, cir_strerror(ret));
        if (pos == 0) {
            cr_assert_eq(cir_rtmp_conn_output(c)->data[0], 3, "S0");
        }
        connected |= out_has(c, "NetConnection.Connect.Success");
        started |= out_has(c, "NetStream.Publish.Start");
        cir_buf_reset(cir_rtmp_conn_output(c));
    }
    cr_assert(connected);
    cr_assert(started);
    cir_rtmp_conn_free(&c);
    free(p);
}

Test(ingest_conn, ffmpeg_capture_publishes_h264_and_aac)
{
    static const size_t steps[] = {1, 13, 4096, 1 << 20};

    for (size_t i = 0; i < 4; i++) {
        events_t e = {.answer = CIR_RTMP_PUBLISH_OK};
        replay_capture("ffmpeg_h264_aac.bin", steps[i], &e);
        cr_assert_eq(e.publishes, 1);
        cr_assert_str_eq(e.key, "testkey");
        cr_assert_str_eq(e.query, "token=abc");
        cr_assert_eq(e.metadata, 1);
        cr_assert_eq(e.width, 160);
        cr_assert_eq(e.seq_video, 1);
        cr_assert_eq(e.seq_audio, 1);
        cr_assert_geq(e.video, 60, "2 s at 30 fps");
        cr_assert_geq(e.audio, 80, "2 s of AAC frames");
        cr_assert_geq(e.last_video_ts, 1900);
        cr_assert_eq(e.unpublishes, 1, "FCUnpublish/deleteStream");
    }
}

Test(ingest_conn, ffmpeg_capture_without_audio)
{
    events_t e = {.answer = CIR_RTMP_PUBLISH_OK};

    replay_capture("ffmpeg_h264_only.bin", 777, &e);
    cr_assert_eq(e.publishes, 1);
    cr_assert_eq(e.audio, 0);
    cr_assert_geq(e.video, 30);
}

Test(ingest_conn, refused_publish_sends_error_status_and_closes)
{
    size_t n;
    uint8_t *p = load_capture("ffmpeg_h264_aac.bin", &n);
    events_t e = {.answer = CIR_RTMP_PUBLISH_UNAUTHORIZED};
    cir_rtmp_conn_t *c = new_conn(&e);
    int ret = 0;
    size_t pos;

    for (pos = 0; pos < n && ret == 0; pos += 100) {
        ret = cir_rtmp_conn_feed(c, p + pos, n - pos < 100 ? n - pos : 100);
    }
    cr_assert_eq(ret, CIR_ECANCELED);
    cr_assert(cir_rtmp_conn_closing(c));
    cr_assert(out_has(c, "NetStream.Publish.Unauthorized"));
    cr_assert_eq(e.video, 0);
    cir_rtmp_conn_free(&c);
    free(p);
}

/* A client session after the handshake, built by hand. */
static void
handshake(cir_rtmp_conn_t *c)
{
    uint8_t hs[1 + 1536 * 2] = {3};

    cr_assert_eq(cir_rtmp_conn_feed(c, hs, sizeof(hs)), 0);
    cr_assert(cir_rtmp_conn_handshake_done(c));
    cir_buf_reset(cir_rtmp_conn_output(c));
}

/* The connect command's AMF: transaction txn, the command object naming
 * app. */
static void
put_connect(cir_buf_t *a, double txn, const char *app)
{
    cir_amf0_put_string(a, "connect");
    cir_amf0_put_number(a, txn);
    cir_amf0_put_object_begin(a);
    cir_amf0_put_key(a, "app");
    cir_amf0_put_string(a, app);
    cir_amf0_put_object_end(a);
}

static void
send_cmd(cir_rtmp_conn_t *c, uint32_t csid, uint32_t sid, cir_buf_t *amf,
         uint32_t chunk)
{
    cir_buf_t b;

    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(cir_rtmp_write_msg(&b, chunk, csid, 0, 20, sid,
                                    (uint8_t *)amf->data, amf->len),
                 0);
    cr_assert_eq(cir_rtmp_conn_feed(c, (uint8_t *)b.data, b.len), 0);
    cir_buf_free(&b);
    cir_buf_reset(amf);
}

Test(ingest_conn, connect_reply_order_ping_ack_and_chunk_size)
{
    events_t e = {.answer = CIR_RTMP_PUBLISH_OK};
    cir_rtmp_conn_t *c = new_conn(&e);
    cir_buf_t a, *o;
    static bytes_t s;
    static got_t g;
    cir_rtmp_reader_t r;

    handshake(c);
    cir_buf_init(&a, 1 << 16);
    put_connect(&a, 7, "live/"); /* a non-zero, non-1 transaction id */
    send_cmd(c, 3, 0, &a, 128);
    o = cir_rtmp_conn_output(c);
    memset(&s, 0, sizeof(s));
    put(&s, o->data, o->len);
    cir_rtmp_reader_init(&r, 1 << 20, 16);
    /* the server's own chunk size applies after its Set Chunk Size */
    size_t used;
    cir_rtmp_msg_t m;
    uint8_t types[8];
    int k = 0;
    size_t pos = 0;
    while (k < 8 &&
           cir_rtmp_reader_feed(&r, s.b + pos, s.n - pos, &used, &m) == 1) {
        pos += used;
        types[k++] = m.type;
        if (m.type == CIR_RTMP_MSG_SET_CHUNK_SIZE) {
            r.chunk_size = (uint32_t)m.data[2] << 8 | m.data[3];
        }
        if (m.type == 20) {
            cr_assert(memmem(m.data, m.size, "Connect.Success", 15));
            cr_assert_eq(m.data[3 + 7 + 1], 0x40, "txn 7 = 0x401c...");
        }
    }
    cr_assert_eq(k, 5);
    cr_assert_eq(types[0], CIR_RTMP_MSG_WIN_ACK_SIZE);
    cr_assert_eq(types[1], CIR_RTMP_MSG_SET_PEER_BW);
    cr_assert_eq(types[2], CIR_RTMP_MSG_USER_CONTROL);
    cr_assert_eq(types[3], CIR_RTMP_MSG_SET_CHUNK_SIZE);
    cr_assert_eq(types[4], 20);
    cir_rtmp_reader_free(&r);
    cir_buf_reset(o);
    (void)g;

    /* PingRequest -> PingResponse with the same timestamp */
    uint8_t ping[] = {0x02, 0, 0, 0, 0, 0, 6, 4,    0,
                      0,    0, 0, 0, 6, 0, 0, 0x12, 0x34};
    cr_assert_eq(cir_rtmp_conn_feed(c, ping, sizeof(ping)), 0);
    cr_assert_eq(o->len, 12 + 6);
    cr_assert_eq((uint8_t)o->data[13], 7);
    cr_assert_eq((uint8_t)o->data[17], 0x34);
    cir_buf_reset(o);

    /* Window Ack Size 100 from the peer: an Acknowledgement follows */
    uint8_t win[] = {0x02, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 100};
    cr_assert_eq(cir_rtmp_conn_feed(c, win, sizeof(win)), 0);
    cr_assert_eq(o->len, 0);
    uint8_t junk_ack[120];
    memset(&s, 0, sizeof(s));
    /* 120 bytes of an unknown message type (ignored) pass the window */
    put_fmt0(&s, 3, 0, 108, 0x30, 0);
    memset(junk_ack, 0, sizeof(junk_ack));
    put(&s, junk_ack, 108);
    cr_assert_eq(cir_rtmp_conn_feed(c, s.b, s.n), 0);
    cr_assert_eq(o->len, 16);
    cr_assert_eq((uint8_t)o->data[7], CIR_RTMP_MSG_ACK);
    cir_buf_reset(o);

    /* Set Chunk Size above the limit is refused */
    uint8_t scs[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x7f, 0, 0, 0};
    cr_assert_eq(cir_rtmp_conn_feed(c, scs, sizeof(scs)), CIR_ELIMIT);
    cir_buf_free(&a);
    cir_rtmp_conn_free(&c);
}

Test(ingest_conn, chunk_size_change_mid_message_and_publish_flow)
{
    events_t e = {.answer = CIR_RTMP_PUBLISH_OK};
    cir_rtmp_conn_t *c = new_conn(&e);
    cir_buf_t a, *o = cir_rtmp_conn_output(c);
    static bytes_t s;

    handshake(c);
    cir_buf_init(&a, 1 << 16);
    put_connect(&a, 1, "live");
    send_cmd(c, 3, 0, &a, 128);
    cir_amf0_put_string(&a, "releaseStream");
    cir_amf0_put_number(&a, 2);
    cir_amf0_put_null(&a);
    cir_amf0_put_string(&a, "k1");
    send_cmd(c, 3, 0, &a, 128);
    cr_assert(out_has(c, "_result"));
    cir_buf_reset(o);
    cir_amf0_put_string(&a, "createStream");
    cir_amf0_put_number(&a, 4);
    cir_amf0_put_null(&a);
    send_cmd(c, 3, 0, &a, 128);
    cir_buf_reset(o);
    cir_amf0_put_string(&a, "publish");
    cir_amf0_put_number(&a, 5);
    cir_amf0_put_null(&a);
    cir_amf0_put_string(&a, "my_key-1?x=1&y=2");
    cir_amf0_put_string(&a, "live");
    send_cmd(c, 8, 1, &a, 128);
    cr_assert_str_eq(e.key, "my_key-1");
    cr_assert_str_eq(e.query, "x=1&y=2");
    cr_assert(out_has(c, "NetStream.Publish.Start"));

    /* a 300-byte video message: first chunk at 128, then the peer sends
     * Set Chunk Size 4096 on csid 2 and the rest comes in one chunk */
    uint8_t video[300] = {0x17, 1, 0, 0, 0};
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 6, 40, 300, 9, 1);
    put(&s, video, 128);
    put_fmt0(&s, 2, 0, 4, 1, 0);
    put32(&s, 4096);
    put_type3(&s, 6, video + 128, 172);
    cr_assert_eq(cir_rtmp_conn_feed(c, s.b, s.n), 0);
    cr_assert_eq(e.video, 1);
    cr_assert_eq(e.last_video_ts, 40);

    /* onMetaData as a plain Object */
    cir_amf0_put_string(&a, "@setDataFrame");
    cir_amf0_put_string(&a, "onMetaData");
    cir_amf0_put_object_begin(&a);
    cir_amf0_put_key(&a, "width");
    cir_amf0_put_number(&a, 640);
    cir_amf0_put_object_end(&a);
    cir_buf_t b;
    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(
        cir_rtmp_write_msg(&b, 4096, 4, 0, 18, 1, (uint8_t *)a.data, a.len), 0);
    cr_assert_eq(cir_rtmp_conn_feed(c, (uint8_t *)b.data, b.len), 0);
    cr_assert_eq(e.metadata, 1);
    cr_assert_eq(e.width, 640);
    cir_buf_free(&b);
    cir_buf_reset(&a);
    cir_amf0_put_string(&a, "deleteStream");
    cir_amf0_put_number(&a, 6);
    cir_amf0_put_null(&a);
    cir_amf0_put_number(&a, 1);
    send_cmd(c, 3, 0, &a, 4096);
    cr_assert_eq(e.unpublishes, 1);
    cir_buf_free(&a);
    cir_rtmp_conn_free(&c);
}

/* Before a publish is accepted a message may be at most
 * max_message_size_before_publish; after it, max_message_size. */
Test(ingest_conn, messages_are_small_until_the_publish_is_accepted)
{
    events_t e = {.answer = CIR_RTMP_PUBLISH_OK};
    cir_rtmp_conn_t *c = new_conn(&e);
    static bytes_t s;
    cir_buf_t a;

    handshake(c);
    /* announced larger than 64 KB before publishing: closed at once, with
     * nothing held */
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 6, 0, 100000, 20, 0);
    put(&s, "x", 1);
    cr_assert_eq(cir_rtmp_conn_feed(c, s.b, s.n), CIR_ELIMIT);
    cr_assert_eq(cir_rtmp_conn_buffered_bytes(c), 0);
    cir_rtmp_conn_free(&c);

    c = new_conn(&e);
    handshake(c);
    cir_buf_init(&a, 1 << 16);
    put_connect(&a, 1, "live");
    send_cmd(c, 3, 0, &a, 128);
    cir_amf0_put_string(&a, "createStream");
    cir_amf0_put_number(&a, 4);
    cir_amf0_put_null(&a);
    send_cmd(c, 3, 0, &a, 128);
    cir_amf0_put_string(&a, "publish");
    cir_amf0_put_number(&a, 5);
    cir_amf0_put_null(&a);
    cir_amf0_put_string(&a, "k1");
    cir_amf0_put_string(&a, "live");
    send_cmd(c, 8, 1, &a, 128);
    cr_assert(out_has(c, "NetStream.Publish.Start"));
    /* publishing: a 100000-byte keyframe is a message like any other; of
     * its first chunk only what arrived is held */
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 6, 0, 100000, 9, 1);
    put(&s, "\x17\x01\x00\x00\x00", 5);
    cr_assert_eq(cir_rtmp_conn_feed(c, s.b, s.n), 0);
    cr_assert_leq(cir_rtmp_conn_buffered_bytes(c), 128 + 4096);
    cir_buf_free(&a);
    cir_rtmp_conn_free(&c);
}

Test(ingest_conn, bad_keys_and_apps_are_refused)
{
    const char *bad[] = {"", "a/b", "key with space",
                         "0123456789012345678901234567890123456789012345678901"
                         "234567890123",
                         "../x"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(cir_rtmp_valid_key(bad[i]), "%s", bad[i]);
    }
    cr_assert(cir_rtmp_valid_key("A-z_09"));

    events_t e = {.answer = CIR_RTMP_PUBLISH_OK};
    cir_rtmp_conn_t *c = new_conn(&e);
    cir_buf_t a;
    handshake(c);
    cir_buf_init(&a, 1 << 16);
    put_connect(&a, 1, "vod");
    cir_buf_t b;
    cir_buf_init(&b, 1 << 16);
    cir_rtmp_write_msg(&b, 128, 3, 0, 20, 0, (uint8_t *)a.data, a.len);
    cr_assert_eq(cir_rtmp_conn_feed(c, (uint8_t *)b.data, b.len),
                 CIR_ECANCELED);
    cr_assert(out_has(c, "NetConnection.Connect.Rejected"));
    cir_buf_free(&a);
    cir_buf_free(&b);
    cir_rtmp_conn_free(&c);
}

/* on_connect: the owner hears the application's name (NULL for what is
 * not a name) and decides. */
typedef struct {
    char app[64];
    int calls, invalid;
} apps_seen_t;

static int
ev_connect(void *o, const char *app)
{
    apps_seen_t *a = o;

    a->calls++;
    a->invalid += app == NULL;
    snprintf(a->app, sizeof(a->app), "%s", app != NULL ? app : "");
    return app != NULL && strcmp(app, "events") == 0 ? 0 : 1;
}

/* A connect naming app to a connection whose owner takes "events" only:
 * 1 when it was accepted. */
static int
connect_to(const char *app, apps_seen_t *seen)
{
    cir_rtmp_handler_t h = {NULL, NULL, NULL, NULL, seen, ev_connect};
    cir_rtmp_limits_t lim;
    uint8_t rnd[1528] = {0};
    cir_rtmp_conn_t *c = NULL;
    cir_buf_t a, b;
    int ret, accepted;

    cir_rtmp_limits_default(&lim);
    cr_assert_eq(cir_rtmp_conn_new(&c, &lim, &h, 0, rnd, 1 << 20), 0);
    handshake(c);
    cir_buf_init(&a, 1 << 16);
    cir_buf_init(&b, 1 << 16);
    put_connect(&a, 1, app);
    cir_rtmp_write_msg(&b, 128, 3, 0, 20, 0, (uint8_t *)a.data, a.len);
    ret = cir_rtmp_conn_feed(c, (uint8_t *)b.data, b.len);
    accepted = out_has(c, "NetConnection.Connect.Success");
    cr_assert_eq(ret, accepted ? 0 : CIR_ECANCELED, "%s", app);
    cr_assert(accepted || out_has(c, "NetConnection.Connect.Rejected"));
    cir_buf_free(&a);
    cir_buf_free(&b);
    cir_rtmp_conn_free(&c);
    return accepted;
}

Test(ingest_conn, the_owner_decides_the_application)
{
    apps_seen_t seen = {0};

    cr_assert(connect_to("events", &seen));
    cr_assert_str_eq(seen.app, "events");
    cr_assert(connect_to("events/?token=1", &seen));
    cr_assert(connect_to("events?x=y", &seen));
    cr_assert_str_eq(seen.app, "events");
    cr_assert_not(connect_to("live", &seen), "the owner's list, not live");
    cr_assert_str_eq(seen.app, "live");
    cr_assert_eq(seen.invalid, 0);
    cr_assert_not(connect_to("events/sub", &seen));
    cr_assert_not(connect_to("../x", &seen));
    cr_assert_not(connect_to("", &seen));
    cr_assert_eq(seen.invalid, 3, "not names: the owner hears NULL");
    cr_assert_eq(seen.calls, 7);
}

Test(ingest_conn, garbage_handshake_and_garbage_after_it)
{
    events_t e = {0};
    cir_rtmp_conn_t *c = new_conn(&e);
    const char *get = "GET / HTTP/1.1\r\n\r\n";

    cr_assert_eq(cir_rtmp_conn_feed(c, (const uint8_t *)get, strlen(get)),
                 CIR_EPARSE);
    cir_rtmp_conn_free(&c);

    c = new_conn(&e);
    handshake(c);
    /* a command before connect */
    cir_buf_t a, b;
    cir_buf_init(&a, 1 << 16);
    cir_buf_init(&b, 1 << 16);
    cir_amf0_put_string(&a, "publish");
    cir_amf0_put_number(&a, 1);
    cir_rtmp_write_msg(&b, 128, 3, 0, 20, 0, (uint8_t *)a.data, a.len);
    cr_assert_eq(cir_rtmp_conn_feed(c, (uint8_t *)b.data, b.len), CIR_EPARSE);
    cir_buf_free(&a);
    cir_buf_free(&b);
    cir_rtmp_conn_free(&c);
}
