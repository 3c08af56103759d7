/*
 * Pieces shared by the live pipeline's file-fed tests (test_transcoder_live.c
 * and the fixtures live_abr_fixture.h and cmaf_live_fixture.h): a work
 * folder, an H.264 input made by ffmpeg from lavfi, and a file job's common
 * settings.  Header-only.
 */
#ifndef CIR_TEST_LIVE_FILE_FIXTURE_H
#define CIR_TEST_LIVE_FILE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "cir_onair.h"

/* A new folder named from template (ending in XXXXXX) into dir. */
static __attribute__((unused)) void
make_workdir(char *dir, size_t n, const char *template)
{
    snprintf(dir, n, "%s", template);
    cr_assert_not_null(mkdtemp(dir), "%s", template);
}

static __attribute__((unused)) void
remove_workdir(const char *dir)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
}

/* dir/name: lavfi's testsrc2 at size (WxH) and 30 fps and a 440 Hz sine at
 * 48 kHz, seconds long; the video in H.264 (-preset ultrafast, then x264
 * with its GOP and B-frame options), the audio with audio (its codec and
 * bitrate options). */
static __attribute__((unused)) void
make_lavfi_input(const char *dir, const char *name, const char *size,
                 double seconds, const char *x264, const char *audio)
{
    char cmd[768];

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=%s:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000 -t %g -c:v libx264 "
             "-preset ultrafast %s %s %s/%s",
             size, seconds, x264, audio, dir, name);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make %s", name);
}

/* A file job on dir/input into dir/live, stream s1: 1/3 s parts, 2 s
 * segments, a window of 10 (the rest zero: callers add theirs). */
static __attribute__((unused)) cir_onair_file_job_t
live_file_job(const char *dir, const char *input)
{
    static char in[128], root[128];
    cir_onair_file_job_t j = {0};

    snprintf(in, sizeof(in), "%s/%s", dir, input);
    snprintf(root, sizeof(root), "%s/live", dir);
    j.input = in;
    j.live.live_root = root;
    j.live.stream = "s1";
    j.live.part_seconds = 1.0 / 3;
    j.live.segment_seconds = 2;
    j.live.window = 10;
    return j;
}

#endif
