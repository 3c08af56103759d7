/* Fuzzes what the live ingest reads from peers it does not control
 * besides RTMP publishers: the bytes a push destination's server answers
 * (the RTMP client: handshake, chunk stream, AMF0 replies), an SRT
 * publisher's streamid, and a push URL list (configuration). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cir_ingest.h"
#include "cir_rtmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_client(const uint8_t *data, size_t size)
{
    static const uint8_t random[1528];
    cir_rtmp_url_t u;
    cir_rtmp_client_t *c = NULL;
    char err[256];
    size_t half = size / 2;

    if (cir_rtmp_url_parse("rtmp://127.0.0.1/live/key", &u, err, sizeof(err)) <
            0 ||
        cir_rtmp_client_new(&c, &u, 0, random) < 0) {
        __builtin_trap();
    }
    /* in two reads, as a socket may cut it; after a failure the client
     * must refuse more without reading past anything */
    if (cir_rtmp_client_feed(c, data, half) == 0) {
        (void)cir_rtmp_client_feed(c, data + half, size - half);
    }
    if (cir_rtmp_client_state(c) == CIR_RTMP_CLIENT_LIVE) {
        (void)cir_rtmp_client_send(c, 9, 40, data, size);
    }
    cir_buf_reset(cir_rtmp_client_output(c));
    cir_rtmp_client_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char app[64], key[64], args[256];
    const char *why = NULL;
    static cir_rtmp_url_t urls[8];
    size_t n = 0;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    if (cir_srt_streamid_parse(text, app, key, args, &why) == 0 &&
        (memchr(key, '\0', sizeof(key)) == NULL || !cir_rtmp_valid_key(key) ||
         memchr(app, '\0', sizeof(app)) == NULL || !cir_rtmp_valid_key(app) ||
         memchr(args, '\0', sizeof(args)) == NULL)) {
        __builtin_trap(); /* an accepted streamid gives a safe app and key */
    }
    (void)cir_rtmp_url_list_parse(text, urls, 8, &n, args, sizeof(args));
    if (n > 8) {
        __builtin_trap();
    }
    free(text);
    fuzz_client(data, size);
    return 0;
}
