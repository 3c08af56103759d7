/*
 * An SRT publisher's packets as the FLV tags push.c forwards (RTMP
 * publishers send FLV tags; SRT ones MPEG-TS, demuxed by srt.c): each
 * packet goes through libavformat's flv muxer, which writes into a buffer
 * (a write-only AVIOContext, flushed after each packet), and the complete
 * tags are cut out of it for srv_push_script / srv_push_media.  The muxer
 * makes what the destinations need: onMetaData, the AVC decoder
 * configuration record from the Annex B SPS/PPS, H.264 frames in AVCC
 * form with their composition time, AAC's AudioSpecificConfig.
 *
 * Runs on the loop, fed from srt.c's hand-over (feed_item), so it shares
 * nothing with the SRT or demux threads.  The muxer is made once every
 * track the demuxer found has its parameters (AAC's come with its first
 * packet; the video before it is held, at most PENDING_FORCE packets, then
 * it goes with the tracks known), and again when a track's parameters change
 * or the timestamps go back (a new timeline): its header then gives the
 * destinations the metadata and sequence headers afresh.  A codec the
 * muxer cannot write (HEVC in FFmpeg before 6.1) is logged once, and the
 * stream is not pushed.
 *
 * Tested through tests/integration/ingest_push_reach.test.mjs (ffmpeg over
 * SRT, pushed to nginx-rtmp and a second cirrus-ingest).
 */
#include "server_internal.h"

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#define FLV_HEADER 13 /* the file header and the first PreviousTagSize */
#define TAG_HEADER 11
#define AVIO_BYTES (64 * 1024)
/* packets going back this far (ms) are a new timeline, not reordering */
#define BACK_MS 1000

struct srv_flvmux {
    AVCodecParameters *par[2]; /* [video]: the tracks' latest, or NULL */
    int expect[2];             /* the demuxer found the track */
    AVFormatContext *fc;       /* the muxer while it runs */
    AVIOContext *pb;
    int index[2];        /* the tracks' streams in fc (-1: none) */
    int64_t last_dts[2]; /* the tracks' last packet written */
    /* packets held until the tracks' parameters are known */
    AVPacket *held[PENDING_FORCE];
    int held_video[PENDING_FORCE];
    size_t nheld;
    int refused; /* the muxer refused these parameters (logged) */
    cir_buf_t out;
    AVPacket *pkt;
};

/* (FFmpeg 7 made the buffer const) */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define AVIO_WRITE_CONST const
#else
#define AVIO_WRITE_CONST
#endif

static int
out_write(void *opaque, AVIO_WRITE_CONST uint8_t *p, int n)
{
    srv_flvmux_t *m = opaque;

    return cir_buf_append(&m->out, p, (size_t)n) < 0 ? AVERROR(ENOMEM) : n;
}

static void
held_clear(srv_flvmux_t *m)
{
    for (size_t i = 0; i < m->nheld; i++) {
        av_packet_free(&m->held[i]);
    }
    m->nheld = 0;
}

static void
mux_close(srv_flvmux_t *m)
{
    avformat_free_context(m->fc);
    m->fc = NULL;
    if (m->pb != NULL) {
        av_freep(&m->pb->buffer);
        avio_context_free(&m->pb);
    }
    cir_buf_reset(&m->out);
}

void
srv_push_flv_free(srv_flvmux_t **mp)
{
    srv_flvmux_t *m = *mp;

    if (m == NULL) {
        return;
    }
    mux_close(m);
    held_clear(m);
    avcodec_parameters_free(&m->par[0]);
    avcodec_parameters_free(&m->par[1]);
    av_packet_free(&m->pkt);
    cir_buf_free(&m->out);
    free(m);
    *mp = NULL;
}

/* The tags written since the last call, to the push destinations. */
static void
tags_out(stream_t *st, srv_flvmux_t *m, size_t skip)
{
    const uint8_t *b = (const uint8_t *)m->out.data;
    size_t at = skip;

    while (m->out.len >= at + TAG_HEADER) {
        const uint8_t *h = b + at, *body = h + TAG_HEADER;
        size_t n = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        uint32_t ts = (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6] |
                      (uint32_t)h[7] << 24;
        cir_flv_tag_t t;

        if (m->out.len < at + TAG_HEADER + n + 4) {
            break; /* (flushed: every tag is complete) */
        }
        if (h[0] == 18) {
            srv_push_script(st, body, n);
        } else if ((h[0] == 8 || h[0] == 9) &&
                   (h[0] == 9 ? cir_flv_parse_video(body, n, &t)
                              : cir_flv_parse_audio(body, n, &t)) == 0) {
            srv_push_media(st, h[0] == 9, ts, body, n, &t);
        }
        at += TAG_HEADER + n + 4;
    }
    cir_buf_reset(&m->out);
}

static int
add_track(srv_flvmux_t *m, stream_t *st, int video)
{
    AVStream *s;

    m->index[video] = -1;
    if (m->par[video] == NULL) {
        return 0;
    }
    if ((s = avformat_new_stream(m->fc, NULL)) == NULL ||
        avcodec_parameters_copy(s->codecpar, m->par[video]) < 0) {
        return AVERROR(ENOMEM);
    }
    s->codecpar->codec_tag = 0; /* MPEG-TS's is not FLV's */
    s->time_base = (AVRational){1, 1000};
    if (video && st->frame_rate > 0) {
        s->avg_frame_rate = av_d2q(st->frame_rate, 100000);
    }
    m->index[video] = s->index;
    return 0;
}

/* The muxer with the tracks known; its header (metadata, sequence headers)
 * goes to the destinations.  <0: it refused them. */
static int
mux_open(stream_t *st, srv_flvmux_t *m)
{
    uint8_t *buf = av_malloc(AVIO_BYTES);
    int ret;

    m->pb = buf != NULL ? avio_alloc_context(buf, AVIO_BYTES, 1, m, NULL,
                                             out_write, NULL)
                        : NULL;
    if (m->pb == NULL) {
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    if ((ret = avformat_alloc_output_context2(&m->fc, NULL, "flv", NULL)) < 0) {
        return ret;
    }
    m->fc->pb = m->pb;
    m->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    /* no duration or size: it is live */
    av_opt_set(m->fc->priv_data, "flvflags", "no_duration_filesize", 0);
    if ((ret = add_track(m, st, 1)) < 0 || (ret = add_track(m, st, 0)) < 0 ||
        (ret = avformat_write_header(m->fc, NULL)) < 0) {
        return ret;
    }
    avio_flush(m->pb);
    m->last_dts[0] = m->last_dts[1] = AV_NOPTS_VALUE;
    tags_out(st, m, FLV_HEADER);
    return 0;
}

/* Holds a packet until the tracks are known (0), or says it cannot. */
static int
hold(srv_flvmux_t *m, int video, const AVPacket *pkt)
{
    if (m->nheld == PENDING_FORCE ||
        (m->held[m->nheld] = av_packet_clone(pkt)) == NULL) {
        return -1;
    }
    m->held_video[m->nheld++] = video;
    return 0;
}

static void write_packet(stream_t *st, srv_flvmux_t *m, int video,
                         const AVPacket *pkt);

/* Whether the muxer runs, made when the tracks are known (with the packets
 * held for it, then); 0: pkt was held, or the muxer refused the tracks. */
static int
mux_ready(stream_t *st, srv_flvmux_t *m, int video, const AVPacket *pkt)
{
    int ret;

    if (m->fc != NULL) {
        return 1;
    }
    if (m->refused) {
        return 0;
    }
    if (((m->expect[1] && m->par[1] == NULL) ||
         (m->expect[0] && m->par[0] == NULL)) &&
        hold(m, video, pkt) == 0) {
        return 0;
    }
    if ((ret = mux_open(st, m)) < 0) {
        cir_log_warn(&st->log,
                     "push: cannot make FLV of this stream's %s%s%s: %s; "
                     "it is not pushed",
                     m->par[1] ? avcodec_get_name(m->par[1]->codec_id) : "",
                     m->par[1] && m->par[0] ? " and " : "",
                     m->par[0] ? avcodec_get_name(m->par[0]->codec_id) : "",
                     av_err2str(ret));
        mux_close(m);
        held_clear(m);
        m->refused = 1;
        return 0;
    }
    for (size_t i = 0; i < m->nheld && m->fc != NULL; i++) {
        write_packet(st, m, m->held_video[i], m->held[i]);
    }
    held_clear(m);
    return m->fc != NULL;
}

static srv_flvmux_t *
flvmux_get(stream_t *st, srv_flvmux_t **mp)
{
    srv_flvmux_t *m = *mp;

    if (m != NULL || !srv_push_wanted(st)) {
        return m;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL ||
        (m->pkt = av_packet_alloc()) == NULL) {
        free(m);
        return NULL;
    }
    cir_buf_init(&m->out, (size_t)64 << 20);
    *mp = m;
    return m;
}

void
srv_push_flv_track(stream_t *st, srv_flvmux_t **mp, int video,
                   const AVCodecParameters *par)
{
    srv_flvmux_t *m = flvmux_get(st, mp);

    if (m == NULL) {
        return;
    }
    m->expect[1] = st->expect_video;
    m->expect[0] = st->expect_audio;
    if (m->par[video] == NULL &&
        (m->par[video] = avcodec_parameters_alloc()) == NULL) {
        return;
    }
    if (avcodec_parameters_copy(m->par[video], par) < 0) {
        avcodec_parameters_free(&m->par[video]);
    }
    /* the next packet makes the muxer again, with these */
    mux_close(m);
    m->refused = 0;
}

static void
write_packet(stream_t *st, srv_flvmux_t *m, int video, const AVPacket *pkt)
{
    int ret;

    if (m->index[video] < 0 || av_packet_ref(m->pkt, pkt) < 0) {
        return;
    }
    m->pkt->stream_index = m->index[video];
    ret = av_write_frame(m->fc, m->pkt);
    av_packet_unref(m->pkt);
    if (ret < 0) {
        /* the muxer takes no dts before its first one, nor a track's going
         * back: a packet a little late (audio before the first video
         * frame) is dropped, a jump back starts a new timeline */
        if (m->last_dts[video] != AV_NOPTS_VALUE &&
            pkt->dts + BACK_MS < m->last_dts[video]) {
            cir_log_debug(&st->log, "push: timestamps went back: new timeline");
            mux_close(m);
        }
        cir_buf_reset(&m->out);
        return;
    }
    m->last_dts[video] = pkt->dts;
    avio_flush(m->pb);
    tags_out(st, m, 0);
}

void
srv_push_flv_packet(stream_t *st, srv_flvmux_t **mp, int video,
                    const AVPacket *pkt)
{
    srv_flvmux_t *m = *mp;

    if (m != NULL && mux_ready(st, m, video, pkt)) {
        write_packet(st, m, video, pkt);
    }
}
