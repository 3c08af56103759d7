/* ingest/src/rtmp_chunk.c: the RTMP handshake and the chunk reader and
 * writer, fed with hand-made byte streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_rtmp.h"
#include "rtmp_fixture.h"

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
    put_type3(&s, 4, pay + 128, 72); /* continuation */
    put_basic(&s, 1, 4);
    put24(&s, 40);
    put24(&s, 10);
    uint8_t t8 = 8;
    put(&s, &t8, 1);
    put(&s, small, 10);
    put_type2(&s, 4, 20, small, 10);
    put_type3(&s, 4, small, 10);
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
    put_type3_ext(&s, 6, 0x01000000, pay, 128);
    put_type3_ext(&s, 6, 0x01000000, pay, 44);
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
    put_type3(&s, 7, zero, 128); /* no timestamp: payload starts at once */
    put_type3(&s, 7, zero, 44);
    /* message 3 on csid 6: type 3 starting a new message carries it */
    put_type3_ext(&s, 6, 0x01000000, pay, 128);
    put_type3_ext(&s, 6, 0x01000000, pay, 128);
    put_type3_ext(&s, 6, 0x01000000, pay, 44);
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
    put_type2(&s, 6, 0x80, pay, sizeof(pay));
    put_type2(&s, 6, 0x100, pay, sizeof(pay));
    put_type3(&s, 6, pay, sizeof(pay));
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
    put_type3(&s, 4, a, 72);
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

/* A peer that announces a large message and sends little of it holds
 * little: the buffer grows with what arrives, up to the declared length. */
Test(ingest_chunk, buffers_grow_with_the_bytes_that_arrive)
{
    static bytes_t s;
    static got_t g;
    static uint8_t a[4096];
    cir_rtmp_reader_t r;

    memset(&s, 0, sizeof(s));
    memset(a, 7, sizeof(a));
    put_fmt0(&s, 4, 0, 1000000, 9, 1);
    put(&s, a, 128);
    cir_rtmp_reader_init(&r, 1 << 20, 16);
    cr_assert_eq(feed_all(&r, &s, 1000, &g), 0);
    cr_assert_eq(g.count, 0);
    cr_assert_eq(r.buffered, 128);
    cr_assert_eq(r.allocated, 128, "%llu bytes held for 128 received",
                 (unsigned long long)r.allocated);
    /* more chunks: the buffer doubles, never past the declared length */
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 20; i++) {
        put_type3(&s, 4, a, 128);
    }
    cr_assert_eq(feed_all(&r, &s, 1000, &g), 0);
    cr_assert_eq(r.buffered, 21 * 128);
    cr_assert_geq(r.allocated, 21 * 128);
    cr_assert_leq(r.allocated, 2 * 21 * 128);
    cir_rtmp_reader_free(&r);
    cr_assert_eq(r.allocated, 0);

    /* a whole message still reads back, byte for byte */
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 5, 0, 300, 9, 1);
    for (int i = 0; i < 300; i++) {
        a[i] = (uint8_t)i;
    }
    put(&s, a, 128);
    put_type3(&s, 5, a + 128, 128);
    put_type3(&s, 5, a + 256, 44);
    cir_rtmp_reader_init(&r, 1000, 16);
    cr_assert_eq(feed_all(&r, &s, 7, &g), 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.m[0].size, 300);
    cr_assert_eq(memcmp(g.data[0], a, 300), 0);
    cr_assert_eq(r.allocated, 300);
    cir_rtmp_reader_free(&r);
}

/* A large message's buffer goes once the message is read (a keyframe's
 * would stay with every publisher until the next keyframe); a small one's
 * stays for the next message. */
Test(ingest_chunk, a_large_message_does_not_keep_its_buffer)
{
    static bytes_t s;
    static got_t g;
    static uint8_t a[40000];
    cir_rtmp_reader_t r;
    cir_rtmp_msg_t m;
    size_t used;

    memset(a, 7, sizeof(a));
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 6, 0, 300, 9, 1);
    put(&s, a, 300);
    cir_rtmp_reader_init(&r, 1 << 20, 16);
    r.chunk_size = 65536;
    cr_assert_eq(feed_all(&r, &s, 100000, &g), 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(r.allocated, 300, "a small message keeps its buffer");

    /* larger than the fixture collects: read here */
    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 4, 0, sizeof(a), 9, 1);
    put(&s, a, sizeof(a));
    cr_assert_eq(cir_rtmp_reader_feed(&r, s.b, s.n, &used, &m), 1);
    cr_assert_eq(used, s.n);
    cr_assert_eq(m.size, sizeof(a));
    cr_assert_eq(memcmp(m.data, a, sizeof(a)), 0);
    cr_assert_eq(r.allocated, 300 + sizeof(a), "held while it is read");
    cr_assert_eq(cir_rtmp_reader_feed(&r, s.b, 0, &used, &m), CIR_EAGAIN);
    cr_assert_eq(r.allocated, 300, "%llu bytes held after a 40 kB message",
                 (unsigned long long)r.allocated);
    cir_rtmp_reader_free(&r);
}

/* A new limit applies to the next message. */
Test(ingest_chunk, the_message_limit_can_be_raised)
{
    static bytes_t s;
    static got_t g;
    static uint8_t a[2000];
    cir_rtmp_reader_t r;

    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 4, 0, 1500, 9, 1);
    cir_rtmp_reader_init(&r, 1000, 16);
    cr_assert_eq(feed_all(&r, &s, 100, &g), CIR_ELIMIT);
    cir_rtmp_reader_free(&r);

    memset(&s, 0, sizeof(s));
    put_fmt0(&s, 2, 0, 4, 1, 0);
    put32(&s, 4096);
    put_fmt0(&s, 4, 0, 1500, 9, 1);
    put(&s, a, 1500);
    cir_rtmp_reader_init(&r, 1000, 16);
    cir_rtmp_reader_set_max_msg_size(&r, 2000);
    r.chunk_size = 4096;
    cr_assert_eq(feed_all(&r, &s, 100, &g), 0);
    cr_assert_eq(g.count, 2);
    cr_assert_eq(g.m[1].size, 1500);
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
