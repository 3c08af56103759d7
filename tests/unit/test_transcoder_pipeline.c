/* pipeline.c: what cir_transcode_run decides before it touches the input,
 * and how it opens the input.  The transcoding itself is tested end to end
 * by the integration tests (transcode, aws, worker). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "cir_transcode.h"

/* A preset loaded by common alone (as a caller that skips
 * cir_preset_codecs_load would) is still checked against the codecs: the
 * job fails as a bad preset before any output exists. */
Test(pipeline, a_preset_breaking_the_codec_rules_fails_before_any_output)
{
    const char *doc = "{\"video\":{\"codec\":\"vp9\",\"rungs\":[{\"name\":"
                      "\"a\",\"height\":360,\"bitrate_kbps\":100}]}}";
    char out[] = "/tmp/cir-pipeline-XXXXXX", uri[128], err[256];
    cir_preset_t p;
    cir_result_t result;
    cir_job_t job = {0};
    struct stat st;

    cr_assert_eq(cir_preset_parse(doc, strlen(doc), &p, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_not_null(mkdtemp(out));
    snprintf(uri, sizeof(uri), "file://%s/asset", out);
    job.input = "file:///nonexistent/input.mp4";
    job.output = uri;
    job.preset = &p;
    cr_assert_eq(cir_transcode_run(&job, &result), CIR_EINVAL);
    cr_assert_str_eq(result.error,
                     "preset: video.codec: \"vp9\" is not one of h264, hevc");
    cr_assert_eq(cir_transcode_exit_code(CIR_EINVAL), CIR_EXIT_BAD_PRESET);
    cr_assert_eq(cir_transcode_exit_permanent(CIR_EXIT_BAD_PRESET), 1);
    snprintf(uri, sizeof(uri), "%s/asset", out);
    cr_assert_neq(stat(uri, &st), 0, "nothing written");
    rmdir(out);
}

/* One second of 48 kHz stereo silence as a WAV file at path. */
static void
write_wav(const char *path)
{
    const uint32_t rate = 48000, bytes = rate * 4;
    uint8_t h[44] = "RIFF....WAVEfmt ";
    FILE *f = fopen(path, "wb");
    uint8_t *data = calloc(1, bytes);

    cr_assert_not_null(f);
    cr_assert_not_null(data);
#define LE32(p, v)                                        \
    ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8), \
     (p)[2] = (uint8_t)((v) >> 16), (p)[3] = (uint8_t)((v) >> 24))
    LE32(h + 4, 36 + bytes);
    LE32(h + 16, 16);
    h[20] = 1; /* PCM */
    h[21] = 0;
    h[22] = 2; /* channels */
    h[23] = 0;
    LE32(h + 24, rate);
    LE32(h + 28, rate * 4);
    h[32] = 4; /* block align */
    h[33] = 0;
    h[34] = 16; /* bits */
    h[35] = 0;
    memcpy(h + 36, "data", 4);
    LE32(h + 40, bytes);
#undef LE32
    cr_assert_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
    cr_assert_eq(fwrite(data, 1, bytes, f), bytes);
    fclose(f);
    free(data);
}

static void
audio_preset(cir_preset_t *p)
{
    const char *doc =
        "{\"name\":\"a\",\"video\":{\"enabled\":false},\"audio\":{"
        "\"enabled\":true,\"bitrate_kbps\":64,\"channels\":2,\"sample_rate\":"
        "48000},\"segment_seconds\":2,\"thumbnails\":{\"enabled\":false},"
        "\"images\":{\"enabled\":false}}";
    char err[256];

    cr_assert_eq(cir_preset_parse(doc, strlen(doc), p, err, sizeof(err)), 0,
                 "%s", err);
}

/* The video path opens its input locked down as the images path does
 * (input.c): `file` is the only protocol, so an input naming FFmpeg's
 * concat protocol over two readable WAV files is refused at the open,
 * while the same file by its own name transcodes. */
Test(pipeline, the_video_path_refuses_a_protocol_other_than_file)
{
    char dir[] = "/tmp/cir-pipeline-XXXXXX", wav[64], in[160], out[96],
         master[128], cmd[96];
    cir_preset_t p;
    cir_result_t result;
    cir_job_t job = {0};
    struct stat st;

    audio_preset(&p);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(wav, sizeof(wav), "%s/a.wav", dir);
    write_wav(wav);
    job.preset = &p;
    job.output = out;

    snprintf(in, sizeof(in), "concat:%s|%s", wav, wav);
    snprintf(out, sizeof(out), "%s/refused", dir);
    job.input = in;
    cr_assert_eq(cir_transcode_run(&job, &result), CIR_EMEDIA, "%s",
                 result.error);
    cr_assert_not_null(strstr(result.error, "cannot open input"), "%s",
                       result.error);
    cr_assert_eq(result.is_image, 0);
    snprintf(master, sizeof(master), "%s/master.m3u8", out);
    cr_assert_neq(stat(master, &st), 0, "nothing published");

    snprintf(out, sizeof(out), "%s/plain", dir);
    job.input = wav;
    cr_assert_eq(cir_transcode_run(&job, &result), 0, "%s", result.error);
    snprintf(master, sizeof(master), "%s/master.m3u8", out);
    cr_assert_eq(stat(master, &st), 0);
    cr_assert_eq(result.nb_renditions, 1);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
