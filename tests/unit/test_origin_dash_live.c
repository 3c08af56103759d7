/*
 * The live MPD (LL-DASH): golden MPDs live and ended, well-formedness
 * (xmllint), the LL attributes and the timeline with the open segment.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_origin.h"

#define TS 90000
#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

/* ---- fixtures: 4 s segments of four 1 s parts ---- */

typedef struct {
    cir_live_segment_t segs[32];
    cir_live_part_t parts[256];
    cir_live_index_t idx;
} fx_t;

static void
fx_init(fx_t *f, const char *rend, cir_live_kind_t kind, uint64_t msn0)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->idx.track.rendition, CIR_LIVE_ID_MAX, "%s", rend);
    f->idx.track.kind = kind;
    if (kind == CIR_LIVE_VIDEO) {
        snprintf(f->idx.track.codecs, 64, "avc1.64001f");
        f->idx.track.width = 1280;
        f->idx.track.height = 720;
        f->idx.track.frame_rate = 30;
        f->idx.track.bandwidth = 3000000;
        f->idx.track.average_bandwidth = 2500000;
    } else {
        snprintf(f->idx.track.codecs, 64, "mp4a.40.2");
        f->idx.track.sample_rate = 48000;
        f->idx.track.channels = 2;
        f->idx.track.bandwidth = 128000;
        f->idx.track.average_bandwidth = 128000;
    }
    f->idx.timescale = TS;
    f->idx.segment_target = 4 * TS;
    f->idx.part_target = TS;
    f->idx.window = 10;
    f->idx.init_id = 1;
    f->idx.started_us = T0;
    f->idx.updated_us = T0;
    f->idx.segments = f->segs;
    f->idx.parts = f->parts;
    f->segs[0].msn = msn0; /* read by the first fx_add */
}

/* A segment of nparts 1 s parts; parts listed when keep. */
static cir_live_segment_t *
fx_add(fx_t *f, uint32_t nparts, int complete, int keep)
{
    cir_live_index_t *x = &f->idx;
    cir_live_segment_t *s = &f->segs[x->nb_segments], *prev;
    uint64_t msn =
        x->nb_segments ? f->segs[x->nb_segments - 1].msn + 1 : f->segs[0].msn;
    uint32_t j;

    prev = x->nb_segments ? s - 1 : NULL;
    memset(s, 0, sizeof(*s));
    s->msn = msn;
    s->start = prev ? prev->start + prev->duration : 0;
    s->duration = (int64_t)nparts * TS;
    s->pdt_us = T0 + s->start / TS * 1000000;
    s->init_id = x->init_id;
    s->complete = (uint8_t)complete;
    s->size = complete ? 1000 * msn : 0;
    if (keep) {
        s->first_part = (uint32_t)x->nb_parts;
        s->nb_parts = nparts;
        for (j = 0; j < nparts; j++) {
            x->parts[x->nb_parts].duration = TS;
            x->parts[x->nb_parts].independent = j == 0;
            x->nb_parts++;
        }
    }
    x->nb_segments++;
    return s;
}

/* msn 100..: n complete (parts on the last 3), then an open one with
 * open_parts (none when < 0). */
static void
fx_live(fx_t *f, const char *rend, size_t n, int open_parts)
{
    size_t i;

    fx_init(f, rend, CIR_LIVE_VIDEO, 100);
    for (i = 0; i < n; i++) {
        fx_add(f, 4, 1, i + 3 >= n);
    }
    if (open_parts >= 0) {
        fx_add(f, (uint32_t)open_parts, 0, 1);
    }
}

/* ---- golden files ---- */

static void
golden_path(char *dst, size_t n, const char *name)
{
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    const char *file = __FILE__, *slash;

    if (src != NULL && *src) {
        snprintf(dst, n, "%s/tests/golden/origin/%s", src, name);
        return;
    }
    slash = strrchr(file, '/');
    snprintf(dst, n, "%.*s/../golden/origin/%s",
             slash ? (int)(slash - file) : 1, slash ? file : ".", name);
}

static void
check_golden(const char *name, const cir_buf_t *b)
{
    char path[4096], *want;
    const char *upd = getenv("CIRRUS_UPDATE_GOLDEN");
    size_t n, line = 1, i;
    long len;
    FILE *f;

    golden_path(path, sizeof(path), name);
    if (upd != NULL && strcmp(upd, "1") == 0) {
        f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        cr_assert_eq(fwrite(b->data, 1, b->len, f), b->len);
        fclose(f);
        cr_log_warn("rewrote %s", path);
        return;
    }
    f = fopen(path, "rb");
    cr_assert_not_null(f, "missing golden %s (CIRRUS_UPDATE_GOLDEN=1)", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    cr_assert_geq(len, 0);
    want = malloc((size_t)len + 1);
    cr_assert_not_null(want);
    n = fread(want, 1, (size_t)len, f);
    fclose(f);
    want[n] = '\0';
    for (i = 0; i < n && i < b->len && want[i] == b->data[i]; i++) {
        line += want[i] == '\n';
    }
    cr_expect(n == b->len && i == n, "%s differs at line %zu:\n%s", name, line,
              b->data);
    free(want);
}

static fx_t fa, fb, fc;
static cir_buf_t out;

static void
setup(void)
{
    cir_buf_init(&out, 1 << 20);
}

static void
teardown(void)
{
    cir_buf_free(&out);
}

TestSuite(dash_live, .init = setup, .fini = teardown);

/* xmllint --noout on the output; skips when xmllint is not installed. */
static void
expect_well_formed(const cir_buf_t *b)
{
    char path[] = "/tmp/cirrus-lmpd-XXXXXX", cmd[256];
    int fd, rc;

    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        cr_skip("xmllint not installed");
    }
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b->data, b->len), (ssize_t)b->len);
    close(fd);
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
    rc = system(cmd);
    unlink(path);
    cr_expect_eq(rc, 0, "xmllint rejected:\n%s", b->data);
}

static const cir_live_index_t *tracks[3];

static void
stream(int ended)
{
    fx_live(&fa, "720p", 5, ended ? -1 : 2);
    fx_live(&fb, "360p", 5, ended ? -1 : 2);
    fb.idx.track.width = 640;
    fb.idx.track.height = 360;
    fb.idx.track.bandwidth = 800000;
    snprintf(fb.idx.track.codecs, 64, "avc1.64001e");
    fx_init(&fc, "audio", CIR_LIVE_AUDIO, 100);
    fc.idx.timescale = 48000;
    fc.idx.segment_target = 4 * 48000;
    fc.idx.part_target = 48000;
    for (int i = 0; i < 5; i++) {
        cir_live_segment_t *s = fx_add(&fc, 0, 1, 0);
        s->duration = 4 * 48000;
        s->start = (int64_t)i * 4 * 48000;
    }
    if (ended) {
        fa.idx.ended = fb.idx.ended = fc.idx.ended = 1;
    }
    tracks[0] = &fa.idx;
    tracks[1] = &fb.idx;
    tracks[2] = &fc.idx;
}

static const cir_dash_live_config_t cfg = {
    .utc_timing_url = "/time?iso&ms",
    .now_us = T0 + 26500000,
    .latency_target_ms = 3000,
};

Test(dash_live, dynamic_mpd)
{
    stream(0);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " type=\"dynamic\" availabilityStartTime=\""
                               "2026-01-01T00:00:00.000Z\" publishTime=\""
                               "2026-01-01T00:00:26.500Z\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "timeShiftBufferDepth=\"PT40.000S\"") != NULL);
    cr_expect(strstr(out.data, "availabilityTimeOffset=\"3.000\" "
                               "availabilityTimeComplete=\"false\"") != NULL);
    cr_expect(strstr(out.data, "<Latency referenceId=\"0\" target=\"3000\"") !=
              NULL);
    cr_expect(strstr(out.data, "<PlaybackRate min=\"0.96\" max=\"1.04\"/>") !=
              NULL);
    cr_expect(strstr(out.data,
                     "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:"
                     "http-iso:2014\" value=\"/time?iso&amp;ms\"/>") != NULL);
    cr_expect(strstr(out.data, "<ProducerReferenceTime id=\"0\" "
                               "type=\"encoder\"") != NULL);
    /* 5 complete + the open one at its nominal 4 s */
    cr_expect(strstr(out.data, "<S t=\"0\" d=\"360000\" r=\"5\"/>") != NULL);
    cr_expect(strstr(out.data, "startNumber=\"100\"") != NULL);
    cr_expect(strstr(out.data, "$RepresentationID$/init-1.mp4") != NULL);
    cr_expect(strstr(out.data, "mediaPresentationDuration") == NULL);
}

Test(dash_live, ended_mpd_is_static)
{
    stream(1);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_ended.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " type=\"static\" mediaPresentationDuration="
                               "\"PT20.000S\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "minimumUpdatePeriod") == NULL);
    cr_expect(strstr(out.data, "availabilityTimeComplete") == NULL);
    cr_expect(strstr(out.data, "<S t=\"0\" d=\"360000\" r=\"4\"/>") != NULL);
}

Test(dash_live, lists_segments_since_the_latest_init)
{
    stream(0);
    fa.idx.init_id = 2;
    fa.segs[3].init_id = 2;
    fa.segs[4].init_id = 2;
    fa.segs[5].init_id = 2;
    fa.segs[3].discontinuity = 1;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "init-2.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"103\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1080000\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
}

Test(dash_live, rejects_bad_input)
{
    cir_dash_live_config_t c = cfg;

    stream(0);
    c.utc_timing_url = NULL;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &c, &out), CIR_EINVAL);
    fa.idx.timescale = 0;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), CIR_EINVAL);
    cr_assert_eq(out.len, 0);
}
