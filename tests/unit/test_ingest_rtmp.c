/* The RTMP handshake, chunk reader/writer and connection state machine,
 * fed with hand-made byte streams and with streams captured from ffmpeg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_rtmp.h"

/* ---- handshake ---------------------------------------------------------- */

Test(ingest_handshake, s0s1_after_c0_s2_after_c1_then_done_after_c2)
{
    cir_rtmp_handshake_t h;
    uint8_t rnd[1528], c1[1536], c2[1536];
    size_t used;

    memset(rnd, 0xab, sizeof(rnd));
    for (int i = 0; i < 1536; i++) {
        c1[i] = (uint8_t)i;
        c2[i] = 0x55;
    }
    cir_rtmp_handshake_init(&h, 1234, rnd);
    uint8_t c0 = 3;
    cr_assert_eq(cir_rtmp_handshake_feed(&h, &c0, 1, &used), CIR_EAGAIN);
    cr_assert_eq(used, 1);
    cr_assert_eq(h.out_len, 1 + 1536);
    cr_assert_eq(h.out[0], 3);
    cr_assert_eq(h.out[4], 1234 & 0xff); /* S1 time, big-endian */
    cr_assert_eq(h.out[1 + 8], 0xab);
    h.out_len = 0;
    /* C1 in two pieces: S2 only once it is complete */
    cr_assert_eq(cir_rtmp_handshake_feed(&h, c1, 1000, &used), CIR_EAGAIN);
    cr_assert_eq(h.out_len, 0);
    cr_assert_eq(cir_rtmp_handshake_feed(&h, c1 + 1000, 536, &used),
                 CIR_EAGAIN);
    cr_assert_eq(h.out_len, 1536);
    cr_assert_eq(memcmp(h.out, c1, 4), 0);            /* C1 time */
    cr_assert_eq(memcmp(h.out + 8, c1 + 8, 1528), 0); /* C1 random */
    h.out_len = 0;
    uint8_t more[1540];
    memcpy(more, c2, 1536);
    memcpy(more + 1536, "\x02\x00\x00\x00", 4);
    cr_assert_eq(cir_rtmp_handshake_feed(&h, more, sizeof(more), &used), 0);
    cr_assert_eq(used, 1536, "bytes after C2 are left for the chunk reader");
    cr_assert_eq(h.out_len, 0);
}

Test(ingest_handshake, garbage_version_is_an_error)
{
    cir_rtmp_handshake_t h;
    uint8_t rnd[1528] = {0};
    size_t used;
    const uint8_t get[] = "GET / HTTP/1.1\r\n";

    cir_rtmp_handshake_init(&h, 0, rnd);
    cr_assert_eq(cir_rtmp_handshake_feed(&h, get, sizeof(get) - 1, &used),
                 CIR_EPARSE);
    cr_assert_eq(h.out_len, 0);
}

/* ---- chunk reader ------------------------------------------------------- */

typedef struct {
    uint8_t b[70000];
    size_t n;
} bytes_t;

static void
put(bytes_t *s, const void *p, size_t n)
{
    cr_assert_leq(s->n + n, sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void
put_basic(bytes_t *s, int fmt, uint32_t csid)
{
    uint8_t h[3];

    if (csid < 64) {
        h[0] = (uint8_t)(fmt << 6 | csid);
        put(s, h, 1);
    } else if (csid < 320) {
        h[0] = (uint8_t)(fmt << 6);
        h[1] = (uint8_t)(csid - 64);
        put(s, h, 2);
    } else {
        h[0] = (uint8_t)(fmt << 6 | 1);
        h[1] = (uint8_t)((csid - 64) & 0xff);
        h[2] = (uint8_t)((csid - 64) >> 8);
        put(s, h, 3);
    }
}

static void
put24(bytes_t *s, uint32_t v)
{
    uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(s, b, 3);
}

static void
put32(bytes_t *s, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    put(s, b, 4);
}

static void
put_fmt0(bytes_t *s, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type,
         uint32_t sid)
{
    uint8_t le[4] = {(uint8_t)sid, (uint8_t)(sid >> 8), (uint8_t)(sid >> 16),
                     (uint8_t)(sid >> 24)};
    put_basic(s, 0, csid);
    put24(s, ts >= 0xffffff ? 0xffffff : ts);
    put24(s, len);
    put(s, &type, 1);
    put(s, le, 4);
    if (ts >= 0xffffff) {
        put32(s, ts);
    }
}

/* Feeds everything, byte by byte when asked; collects up to 16 messages. */
typedef struct {
    cir_rtmp_msg_t m[16];
    uint8_t data[16][8192];
    int count;
} got_t;

static int
feed_all(cir_rtmp_reader_t *r, const bytes_t *s, size_t step, got_t *g)
{
    size_t pos = 0, used;
    cir_rtmp_msg_t m;
    int ret;

    g->count = 0;
    while (pos < s->n) {
        size_t k = s->n - pos < step ? s->n - pos : step;
        for (;;) {
            ret = cir_rtmp_reader_feed(r, s->b + pos, k, &used, &m);
            pos += used;
            k -= used;
            if (ret == CIR_EAGAIN) {
                break;
            }
            if (ret < 0) {
                return ret;
            }
            cr_assert_lt(g->count, 16);
            g->m[g->count] = m;
            cr_assert_leq(m.size, sizeof(g->data[0]));
            memcpy(g->data[g->count], m.data, m.size);
            /* the payload goes to FFmpeg as is: zero padding after it */
            for (size_t i = 0; m.data != NULL && i < CIR_RTMP_MSG_PADDING;
                 i++) {
                cr_assert_eq(m.data[m.size + i], 0, "padding byte %zu", i);
            }
            g->count++;
        }
    }
    return 0;
}

static void
check_all_steps(const bytes_t *s, void (*check)(const got_t *))
{
    static const size_t steps[] = {1, 2, 3, 7, 100, 100000};
    static got_t g;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cir_rtmp_reader_t r;
        cir_rtmp_reader_init(&r, 1 << 20, 16);
        cr_assert_eq(feed_all(&r, s, steps[i], &g), 0, "step %zu", steps[i]);
        check(&g);
        cir_rtmp_reader_free(&r);
    }
}

static void
check_four_types(const got_t *g)
{
    cr_assert_eq(g->count, 4);
    cr_assert_eq(g->m[0].timestamp, 1000);
    cr_assert_eq(g->m[0].stream_id, 0x01020304, "little-endian stream id");
    cr_assert_eq(g->m[0].size, 200);
    cr_assert_eq(g->data[0][199], 199 & 0xff);
    cr_assert_eq(g->m[1].timestamp, 1040); /* fmt1 delta 40, new length */
    cr_assert_eq(g->m[1].size, 10);
    cr_assert_eq(g->m[1].type, 8);
    cr_assert_eq(g->m[2].timestamp, 1060); /* fmt2 delta 20 */
    cr_assert_eq(g->m[2].size, 10);
    cr_assert_eq(g->m[3].timestamp, 1080); /* fmt3 repeats the delta */
    cr_assert_eq(g->m[3].stream_id, 0x01020304);
    cr_assert_eq(g->data[3][9], 0x99);
}

Test(ingest_chunk, all_four_header_types_at_any_split)
{
    static bytes_t s;
    uint8_t pay[200], small[10];

    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 200; i++) {
        pay[i] = (uint8_t)i;
    }
    memset(small, 0x99, sizeof(small));
    put_fmt0(&s, 4, 1000, 200, 9, 0x01020304);
    put(&s, pay, 128);
    put_basic(&s, 3, 4); /* continuation */
    put(&s, pay + 128, 72);
    put_basic(&s, 1, 4);
    put24(&s, 40);
    put24(&s, 10);
    uint8_t t8 = 8;
    put(&s, &t8, 1);
    put(&s, small, 10);
    put_basic(&s, 2, 4);
    put24(&s, 20);
    put(&s, small, 10);
    put_basic(&s, 3, 4);
    put(&s, small, 10);
    check_all_steps(&s, check_four_types);
}

static void
check_csid_forms(const got_t *g)
{
    cr_assert_eq(g->count, 3);
    cr_assert_eq(g->m[0].csid, 63);
    cr_assert_eq(g->m[1].csid, 300);
    cr_assert_eq(g->m[2].csid, 65599);
    cr_assert_eq(g->data[2][0], 'c');
}

Test(ingest_chunk, csid_in_one_two_and_three_bytes)
{
    static bytes_t s;

    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 63, 0, 1, 20, 0);
    put(&s, "a", 1);
    put_fmt0(&s, 300, 0, 1, 20, 0);
    put(&s, "b", 1);
    put_fmt0(&s, 65599, 0, 1, 20, 0);
    put(&s, "c", 1);
    check_all_steps(&s, check_csid_forms);
}

static void
check_ext(const got_t *g)
{
    cr_assert_eq(g->count, 3);
    cr_assert_eq(g->m[0].timestamp, 0x01000000);
    cr_assert_eq(g->m[0].size, 300);
    cr_assert_eq(g->data[0][299], 0xee);
    cr_assert_eq(g->data[0][128], 0xee, "ext timestamp not taken as payload");
    cr_assert_eq(g->m[1].size, 300);
    cr_assert_eq(g->data[1][128], 0x00, "payload not taken as timestamp");
    cr_assert_eq(g->data[1][131], 0x00);
    cr_assert_eq(g->m[2].timestamp, 0x02000000, "fmt3 new message adds delta");
}

Test(ingest_chunk, extended_timestamps_repeated_or_not_in_type3)
{
    static bytes_t s;
    uint8_t pay[300];

    memset(&s, 0, sizeof(s));
    memset(pay, 0xee, sizeof(pay));
    /* message 1: the extended timestamp repeats in each type-3 chunk */
    put_fmt0(&s, 6, 0x01000000, 300, 9, 1);
    put(&s, pay, 128);
    put_basic(&s, 3, 6);
    put32(&s, 0x01000000);
    put(&s, pay, 128);
    put_basic(&s, 3, 6);
    put32(&s, 0x01000000);
    put(&s, pay, 44);
    /* message 2 (fmt 1, extended delta 0x01000000... no: absolute 0 delta)
     * is sent by a peer that does NOT repeat it in type-3 chunks, and whose
     * payload starts with bytes unlike the timestamp */
    put_basic(&s, 0, 7);
    put24(&s, 0xffffff);
    put24(&s, 300);
    uint8_t t9 = 9, sid[4] = {1, 0, 0, 0};
    put(&s, &t9, 1);
    put(&s, sid, 4);
    put32(&s, 0x01000000);
    uint8_t zero[300] = {0};
    put(&s, zero, 128);
    put_basic(&s, 3, 7);
    put(&s, zero, 128); /* no timestamp: payload starts at once */
    put_basic(&s, 3, 7);
    put(&s, zero, 44);
    /* message 3 on csid 6: type 3 starting a new message carries it */
    put_basic(&s, 3, 6);
    put32(&s, 0x01000000);
    put(&s, pay, 128);
    put_basic(&s, 3, 6);
    put32(&s, 0x01000000);
    put(&s, pay, 128);
    put_basic(&s, 3, 6);
    put32(&s, 0x01000000);
    put(&s, pay, 44);
    check_all_steps(&s, check_ext);
}

static void
check_wrap(const got_t *g)
{
    cr_assert_eq(g->count, 4);
    cr_assert_eq(g->m[0].timestamp, 0xffffff00u);
    cr_assert_eq(g->m[1].timestamp, 0xffffff80u); /* fmt2 delta 0x80 */
    cr_assert_eq(g->m[2].timestamp, 0x00000080u, "wraps at 2^32 ms");
    cr_assert_eq(g->m[3].timestamp, 0x00000180u); /* fmt3: the delta again */
}

/* 49.7 days into a stream its 32-bit millisecond timestamps (extended past
 * 0xffffff) wrap to 0: the reader hands the wrapped value on, and the live
 * pipeline's timestamp stage (ts_wrap_bits 32) undoes the wrap. */
Test(ingest_chunk, timestamps_wrap_at_32_bits)
{
    static bytes_t s;
    uint8_t pay[16] = {0};

    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 6, 0xffffff00u, sizeof(pay), 9, 1);
    put(&s, pay, sizeof(pay));
    put_basic(&s, 2, 6);
    put24(&s, 0x80);
    put(&s, pay, sizeof(pay));
    put_basic(&s, 2, 6);
    put24(&s, 0x100);
    put(&s, pay, sizeof(pay));
    put_basic(&s, 3, 6);
    put(&s, pay, sizeof(pay));
    check_all_steps(&s, check_wrap);
}

static void
check_interleaved(const got_t *g)
{
    cr_assert_eq(g->count, 2);
    /* the small message on csid 5 completes first */
    cr_assert_eq(g->m[0].csid, 5);
    cr_assert_eq(g->m[0].size, 50);
    cr_assert_eq(g->m[1].csid, 4);
    cr_assert_eq(g->m[1].size, 200);
    cr_assert_eq(g->data[1][0], 0xaa);
    cr_assert_eq(g->data[1][199], 0xaa);
}

Test(ingest_chunk, interleaved_chunk_streams)
{
    static bytes_t s;
    uint8_t a[200], b[50];

    memset(&s, 0, sizeof(s));
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    put_fmt0(&s, 4, 0, 200, 9, 1);
    put(&s, a, 128);
    put_fmt0(&s, 5, 0, 50, 8, 1);
    put(&s, b, 50);
    put_basic(&s, 3, 4);
    put(&s, a, 72);
    check_all_steps(&s, check_interleaved);
}

Test(ingest_chunk, message_size_limit_and_unknown_chunk_stream)
{
    static bytes_t s;
    static got_t g;
    cir_rtmp_reader_t r;

    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 4, 0, 0xffffff, 9, 1);
    cir_rtmp_reader_init(&r, 1000, 16);
    cr_assert_eq(feed_all(&r, &s, 100, &g), CIR_ELIMIT);
    cir_rtmp_reader_free(&r);

    memset(&s, 0, sizeof(s));
    put_basic(&s, 1, 9); /* fmt 1 on a chunk stream never opened */
    put24(&s, 0);
    put24(&s, 1);
    put(&s, "\x09", 1);
    cir_rtmp_reader_init(&r, 1000, 16);
    cr_assert_eq(feed_all(&r, &s, 100, &g), CIR_EPARSE);
    cir_rtmp_reader_free(&r);

    memset(&s, 0, sizeof(s));
    for (uint32_t i = 0; i < 5; i++) {
        put_fmt0(&s, 10 + i, 0, 1, 9, 1);
        put(&s, "x", 1);
    }
    cir_rtmp_reader_init(&r, 1000, 4);
    cr_assert_eq(feed_all(&r, &s, 100, &g), CIR_ELIMIT, "too many csids");
    cr_assert_eq(g.count, 4);
    cir_rtmp_reader_free(&r);
}

Test(ingest_chunk, abort_drops_the_partial_message)
{
    static bytes_t s;
    static got_t g;
    cir_rtmp_reader_t r;
    uint8_t a[200];

    memset(&s, 0, sizeof(s));
    memset(a, 1, sizeof(a));
    put_fmt0(&s, 4, 0, 200, 9, 1);
    put(&s, a, 128);
    cir_rtmp_reader_init(&r, 1000, 16);
    cr_assert_eq(feed_all(&r, &s, 1000, &g), 0);
    cr_assert_eq(g.count, 0);
    cir_rtmp_reader_abort(&r, 4);
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 4, 5, 3, 9, 1);
    put(&s, "new", 3);
    cr_assert_eq(feed_all(&r, &s, 1000, &g), 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.m[0].size, 3);
    cr_assert_eq(memcmp(g.data[0], "new", 3), 0);
    cir_rtmp_reader_free(&r);
}

Test(ingest_chunk, writer_output_reads_back)
{
    cir_buf_t b;
    uint8_t pay[1000];
    static bytes_t s;
    static got_t g;
    cir_rtmp_reader_t r;

    for (int i = 0; i < 1000; i++) {
        pay[i] = (uint8_t)(i * 7);
    }
    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(
        cir_rtmp_write_msg(&b, 128, 400, 0x12345678, 9, 1, pay, sizeof(pay)),
        0);
    memset(&s, 0, sizeof(s));
    put(&s, b.data, b.len);
    cir_rtmp_reader_init(&r, 1 << 20, 16);
    cr_assert_eq(feed_all(&r, &s, 5, &g), 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.m[0].csid, 400);
    cr_assert_eq(g.m[0].timestamp, 0x12345678);
    cr_assert_eq(memcmp(g.data[0], pay, sizeof(pay)), 0);
    cir_rtmp_reader_free(&r);
    cir_buf_free(&b);
}

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
    cir_rtmp_handler_t h = {ev_publish, ev_metadata, ev_media, ev_unpublish, e};
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
    cir_amf0_put_string(&a, "connect");
    cir_amf0_put_number(&a, 7); /* a non-zero, non-1 transaction id */
    cir_amf0_put_object_begin(&a);
    cir_amf0_put_key(&a, "app");
    cir_amf0_put_string(&a, "live/");
    cir_amf0_put_object_end(&a);
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
    cir_amf0_put_string(&a, "connect");
    cir_amf0_put_number(&a, 1);
    cir_amf0_put_object_begin(&a);
    cir_amf0_put_key(&a, "app");
    cir_amf0_put_string(&a, "live");
    cir_amf0_put_object_end(&a);
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
    put_basic(&s, 3, 6);
    put(&s, video + 128, 172);
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
    cir_amf0_put_string(&a, "connect");
    cir_amf0_put_number(&a, 1);
    cir_amf0_put_object_begin(&a);
    cir_amf0_put_key(&a, "app");
    cir_amf0_put_string(&a, "vod");
    cir_amf0_put_object_end(&a);
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
