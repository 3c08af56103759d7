/* Fuzzes the chunk reader (with the split point taken from the input) and
 * the whole server connection (handshake, chunks, commands, media). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

static int
nop_publish(void *o, const char *key, const char *query)
{
    (void)key;
    (void)query;
    return cir_rtmp_conn_publish_reply(*(cir_rtmp_conn_t **)o,
                                       CIR_RTMP_PUBLISH_OK);
}

static int
nop_media(void *o, int video, uint32_t ts, const uint8_t *p, size_t n)
{
    cir_flv_tag_t t;

    (void)o;
    (void)ts;
    return video ? (cir_flv_parse_video(p, n, &t), 0)
                 : (cir_flv_parse_audio(p, n, &t), 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_rtmp_reader_t r;
    cir_rtmp_msg_t m;
    size_t pos = 0, used, step;
    cir_rtmp_conn_t *c = NULL;
    cir_rtmp_limits_t lim;
    cir_rtmp_handler_t h = {nop_publish, NULL, nop_media, NULL, &c, NULL};
    uint8_t rnd[1528] = {0};

    if (size == 0) {
        return 0;
    }
    step = (size_t)data[0] % 61 + 1;
    cir_rtmp_reader_init(&r, 1 << 16, 8);
    while (pos < size) {
        size_t k = size - pos < step ? size - pos : step;
        int ret = cir_rtmp_reader_feed(&r, data + pos, k, &used, &m);
        pos += used;
        if (ret < 0 && ret != CIR_EAGAIN) {
            break;
        }
        if (ret == 1) {
            if (m.size > 0) {
                volatile uint8_t x = m.data[m.size - 1]; /* in bounds */
                (void)x;
            }
            if (m.type == CIR_RTMP_MSG_SET_CHUNK_SIZE && m.size >= 4) {
                r.chunk_size = ((uint32_t)m.data[2] << 8 | m.data[3]) + 1;
            }
        }
    }
    cir_rtmp_reader_free(&r);

    cir_rtmp_limits_default(&lim);
    lim.max_message_size = 1 << 16;
    if (cir_rtmp_conn_new(&c, &lim, &h, 0, rnd, 1 << 20) < 0) {
        return 0;
    }
    for (pos = 0; pos < size; pos += step) {
        size_t k = size - pos < step ? size - pos : step;
        if (cir_rtmp_conn_feed(c, data + pos, k) < 0) {
            break;
        }
        cir_buf_reset(cir_rtmp_conn_output(c));
    }
    cir_rtmp_conn_free(&c);
    return 0;
}
