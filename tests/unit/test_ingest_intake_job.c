/*
 * cir_intake_parse_job: job documents, S3 notifications (URL-decoded keys,
 * TestEvent), EventBridge events, and hostile input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_intake.h"
#include "cir_storage.h"

static char err[256];

static int
parse(const char *text, cir_vod_job_t *job)
{
    return cir_intake_parse_job(text, strlen(text), "file:///out/", NULL, "web",
                                job, err, sizeof(err));
}

static const char *
s3_event(char *buf, size_t size, const char *key)
{
    snprintf(buf, size,
             "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":"
             "\"aws:s3\",\"awsRegion\":\"eu-west-1\",\"eventTime\":"
             "\"2026-11-27T08:49:51.123Z\",\"eventName\":\"ObjectCreated:Put\","
             "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":"
             "\"uploads\",\"arn\":\"arn:aws:s3:::uploads\"},\"object\":{"
             "\"key\":\"%s\",\"size\":1024,\"eTag\":\"abc\",\"sequencer\":"
             "\"0055AED6DCD90281E5\"}}}]}",
             key);
    return buf;
}

Test(intake_job, job_document)
{
    cir_vod_job_t job;
    int ret = parse("{\"input\":\"file:///in/a.mp4\",\"output\":"
                    "\"file:///out/a\",\"preset\":\"mobile\",\"only\":"
                    "\"hls,dash\"}",
                    &job);
    cr_assert_eq(ret, 0, "%s", err);
    cr_assert_str_eq(job.input, "file:///in/a.mp4");
    cr_assert_str_eq(job.output, "file:///out/a");
    cr_assert_str_eq(job.preset, "mobile");
    cr_assert_eq(job.only, 3u);
    cr_assert_eq(job.attempt, 1);
    cr_assert_str_eq(job.id, "a");
}

Test(intake_job, job_defaults_output_and_preset)
{
    cir_vod_job_t job;
    cr_assert_eq(parse("{\"input\":\"/media/My Clip.v2.mov\",\"only\":"
                       "[\"thumbs\",\"images\"]}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.output, "file:///out/My Clip.v2");
    cr_assert_str_eq(job.preset, "web");
    cr_assert_eq(job.only, 12u);
    cr_assert_str_eq(job.id, "My%20Clip.v2");
}

Test(intake_job, job_rejects_unknown_and_bad_fields)
{
    cir_vod_job_t job;
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"colour\":\"red\"}", &job),
                 CIR_EINVAL);
    cr_assert(strstr(err, "colour"), "%s", err);
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":\"../etc\"}", &job),
                 CIR_EINVAL);
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"only\":\"hls,\"}", &job),
                 CIR_EINVAL);
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"only\":\"mp3\"}", &job),
                 CIR_EINVAL);
    cr_assert_eq(parse("{\"input\":5}", &job), CIR_EINVAL);
    cr_assert_eq(parse("{\"output\":\"file:///x\"}", &job), CIR_EINVAL);
    cr_assert_eq(parse("[1,2]", &job), CIR_EPARSE);
    /* the output may not be derived from a name that escapes the root */
    cr_assert_lt(parse("{\"input\":\"s3://b/..\"}", &job), 0);
}

Test(intake_job, job_subtitles)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"s3://uploads/a.mp4\",\"subtitles\": [ "
                       "{\"uri\": \"s3://uploads/a.en.srt\", \"language\": "
                       "\"en\", \"kind\": \"captions\"} ]}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.subtitles, "[{\"uri\":\"s3://uploads/a.en.srt\","
                                    "\"language\":\"en\",\"kind\":"
                                    "\"captions\"}]");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"subtitles\":[]}", &job), 0);
    cr_assert_str_eq(job.subtitles, "");
    cr_assert_eq(parse("{\"input\":\"a.mp4\"}", &job), 0);
    cr_assert_str_eq(job.subtitles, "");
}

Test(intake_job, job_subtitles_refused_with_the_field)
{
    char big[12000];
    cir_vod_job_t job;
    size_t o;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"subtitles\":[{\"uri\":"
                       "\"a.srt\",\"language\":\"english\"}]}",
                       &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "subtitles[0].language: \"english\" is not a BCP "
                          "47 tag (such as \"en\", \"pt-BR\")");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"subtitles\":\"a.srt\"}", &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "subtitles: expected an array of objects");
    /* 16 entries of long URIs: more JSON than a job carries */
    o = (size_t)snprintf(big, sizeof(big),
                         "{\"input\":\"a.mp4\",\"subtitles\":[");
    for (int i = 0; i < 16; i++) {
        o += (size_t)snprintf(big + o, sizeof(big) - o,
                              "%s{\"uri\":\"/%0600d.srt\",\"language\":"
                              "\"en\"}",
                              i ? "," : "", i);
    }
    snprintf(big + o, sizeof(big) - o, "]}");
    cr_assert_eq(parse(big, &job), CIR_ELIMIT);
    cr_assert_str_eq(err, "subtitles: more than 8191 bytes of JSON");
}

/* Other subtitles make another output: another publication tag; none
 * leaves the tag as it was before subtitles existed. */
Test(intake_job, subtitles_in_the_publish_tag)
{
    char t1[CIR_PUBLISH_TAG_LEN + 1], t2[CIR_PUBLISH_TAG_LEN + 1];
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"x\"}", &job), 0);
    cr_assert_eq(cir_intake_publish_tag(&job, t1), 0);
    /* what cir_intake_publish_tag gave this job before subtitles */
    cr_assert_str_eq(t1, "a4aaf6eaf9ff622ad2d722dde029295b75e190d4462826d044"
                         "1537d4f4c4c99a");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"x\",\"subtitles\":"
                       "[{\"uri\":\"a.srt\",\"language\":\"en\"}]}",
                       &job),
                 0);
    cr_assert_eq(cir_intake_publish_tag(&job, t2), 0);
    cr_assert_str_neq(t1, t2);
}

/* "encryption": a scheme and a key file name, never a key; another
 * encryption is another output (another tag), none leaves the tag alone. */
Test(intake_job, job_encryption)
{
    char t1[CIR_PUBLISH_TAG_LEN + 1], t2[CIR_PUBLISH_TAG_LEN + 1];
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"x\"}", &job), 0);
    cr_assert_str_eq(job.encryption, "");
    cr_assert_eq(cir_intake_publish_tag(&job, t1), 0);
    cr_assert_str_eq(t1, "a4aaf6eaf9ff622ad2d722dde029295b75e190d4462826d044"
                         "1537d4f4c4c99a");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"x\",\"encryption\":"
                       "{\"scheme\":\"cbcs\",\"key_file\":\"films/a.json\"}}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.encryption,
                     "{\"key_file\":\"films/a.json\",\"scheme\":\"cbcs\"}");
    cr_assert_eq(cir_intake_publish_tag(&job, t2), 0);
    cr_assert_str_neq(t1, t2);
}

/* "speke" instead of a key file: no key_dir needed, a key ID allowed
 * (not secret), FairPlay's key URI left to the provider. */
Test(intake_job, job_encryption_speke)
{
    cir_vod_job_t job;

    cr_assert_eq(
        parse(
            "{\"input\":\"a.mp4\",\"id\":\"x\",\"encryption\":{\"scheme\":"
            "\"cbcs\",\"key_id\":\"0123456789abcdef0123456789abcdef\","
            "\"speke\":{\"url\":\"https://kp.example/v2\",\"resource_id\":"
            "\"film-42\",\"region\":\"us-east-1\"},\"drm\":{\"fairplay\":{}}}}",
            &job),
        0, "%s", err);
    cr_assert_not_null(strstr(job.encryption, "\"speke\":{"), "%s",
                       job.encryption);
}

Test(intake_job, job_encryption_refused_with_the_field)
{
    static const struct {
        const char *enc, *why;
    } bad[] = {
        {"{\"scheme\":\"cenc\",\"key_id\":\"0123456789abcdef0123456789abcdef\","
         "\"key\":\"3c5a0e17b5d24f8e9a61c0d2e4f6a8b1\"}",
         "encryption.key_id: a job document names a key_file"},
        {"{\"scheme\":\"cenc\",\"key_file\":\"k.json\",\"key\":\"00\"}",
         "encryption.key: a job document names a key_file"},
        {"{\"scheme\":\"aes\",\"key_file\":\"k.json\"}", "encryption.scheme"},
        {"{\"key_file\":\"k.json\"}", "encryption.scheme"},
        {"{\"scheme\":\"cenc\"}", "encryption.key_file"},
        {"{\"scheme\":\"cenc\",\"key_file\":\"/etc/shadow\"}",
         "encryption.key_file"},
        {"{\"scheme\":\"cenc\",\"key_file\":\"../k.json\"}",
         "encryption.key_file"},
        {"{\"scheme\":\"cenc\",\"key_file\":\"k.json\",\"iv\":1}",
         "encryption: unknown field \"iv\""},
        {"\"cenc\"", "encryption: not an object"},
        {"{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"http://kp.example/\","
         "\"resource_id\":\"r\"}}",
         "encryption.speke.url"},
        {"{\"scheme\":\"cbcs\",\"key_file\":\"k.json\",\"speke\":{\"url\":"
         "\"https://kp.example/\",\"resource_id\":\"r\"}}",
         "encryption.speke: with cenc or cbcs and no key_file"},
        {"{\"scheme\":\"cbcs\",\"key\":\"3c5a0e17b5d24f8e9a61c0d2e4f6a8b1\","
         "\"speke\":{\"url\":\"https://kp.example/\",\"resource_id\":\"r\"}}",
         "encryption.key: a job document names a key_file"},
    };
    char doc[1024];
    cir_vod_job_t job;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(doc, sizeof(doc), "{\"input\":\"a.mp4\",\"encryption\":%s}",
                 bad[i].enc);
        cr_expect_eq(parse(doc, &job), CIR_EINVAL, "%s", doc);
        cr_expect_not_null(strstr(err, bad[i].why), "%s: \"%s\"", doc, err);
        cr_expect_null(strstr(err, "3c5a0e17"), "the key in \"%s\"", err);
    }
}

Test(intake_job, s3_event_plus_is_space)
{
    char buf[2048];
    cir_vod_job_t job;
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "My+Video.mp4"), &job), 0,
                 "%s", err);
    cr_assert_str_eq(job.input, "s3://uploads/My Video.mp4");
    cr_assert_str_eq(job.output, "file:///out/My Video");
    cr_assert_str_eq(job.preset, "web");
    /* 2026-11-27T08:49:51.123Z */
    cr_assert_eq(job.enqueued_us, 1795769391123000LL);
}

Test(intake_job, s3_event_percent_escapes_and_unicode)
{
    char buf[2048];
    cir_vod_job_t job;
    /* "clips/Été 100%+.mp4" as S3 encodes it; %2B is a literal '+' */
    cr_assert_eq(
        parse(s3_event(buf, sizeof(buf), "clips/%C3%89t%C3%A9+100%25%2B.mp4"),
              &job),
        0, "%s", err);
    cr_assert_str_eq(job.input,
                     "s3://uploads/clips/\xc3\x89t\xc3\xa9 100%+.mp4");
    cr_assert_str_eq(job.output, "file:///out/clips/\xc3\x89t\xc3\xa9 100%+");
}

Test(intake_job, s3_event_bad_keys)
{
    char buf[2048];
    cir_vod_job_t job;
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a%zz.mp4"), &job),
                 CIR_EPARSE);
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a%2"), &job), CIR_EPARSE);
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a%00b.mp4"), &job),
                 CIR_EPARSE);
    /* invalid UTF-8 after decoding */
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a%C3%28.mp4"), &job),
                 CIR_EPARSE);
    /* path traversal and folder markers */
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a/../../etc/x.mp4"), &job),
                 CIR_EINVAL);
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "folder/"), &job),
                 CIR_EINVAL);
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a%0Ab.mp4"), &job),
                 CIR_EINVAL);
}

Test(intake_job, s3_key_too_long)
{
    char key[1100], buf[4096];
    cir_vod_job_t job;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    cr_assert_eq(parse(s3_event(buf, sizeof(buf), key), &job), CIR_ELIMIT);
}

static int
parse_s3_out(const char *text, cir_vod_job_t *job)
{
    return cir_intake_parse_job(text, strlen(text), "s3://out/vod", NULL, "web",
                                job, err, sizeof(err));
}

/* Keys S3 accepts that cannot name an output: refused with the rule and
 * the input named, so the worker parks them (never "nothing to do"). */
Test(intake_job, keys_that_cannot_name_an_output_name_the_rule)
{
    const char *keys[] = {"a//b.mp4", "%2Fa.mp4", "a/b/.mp4x/", "a/./b.mp4",
                          "a%5Cb.mp4"};
    const char *rules[] = {"empty path segment", "empty path segment",
                           "empty path segment", "\".\" or \"..\"",
                           "backslash"};
    char buf[4096];
    cir_vod_job_t job;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_eq(parse_s3_out(s3_event(buf, sizeof(buf), keys[i]), &job),
                     CIR_EINVAL, "%s", keys[i]);
        cr_assert_not_null(strstr(err, rules[i]), "%s: %s", keys[i], err);
        cr_assert(strncmp(job.input, "s3://uploads/", 13) == 0, "%s",
                  job.input);
    }
}

Test(intake_job, keys_whose_outputs_exceed_the_s3_key_limit)
{
    char key[1100], buf[4096];
    size_t prefix = strlen("vod/"); /* out_root's key */
    size_t room = CIR_S3_KEY_MAX - CIR_ASSET_KEY_RESERVE - prefix;
    cir_vod_job_t job;

    /* a 1010-byte key: an S3 key, but its outputs would not be */
    memset(key, 'k', 1006);
    memcpy(key + 1006, ".mp4", 5);
    cr_assert_eq(parse_s3_out(s3_event(buf, sizeof(buf), key), &job),
                 CIR_ELIMIT);
    cr_assert_not_null(strstr(err, "1024-byte key limit"), "%s", err);
    cr_assert_not_null(strstr(err, "object key of 1010 bytes"), "%s", err);

    /* the longest folder that still fits, and one byte more */
    memset(key, 'k', room);
    memcpy(key + room, ".mp4", 5);
    cr_assert_eq(parse_s3_out(s3_event(buf, sizeof(buf), key), &job), 0, "%s",
                 err);
    memset(key, 'k', room + 1);
    memcpy(key + room + 1, ".mp4", 5);
    cr_assert_eq(parse_s3_out(s3_event(buf, sizeof(buf), key), &job),
                 CIR_ELIMIT);
}

Test(intake_job, job_document_output_rules)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"s3://in/a.mp4\",\"output\":"
                       "\"s3://out/a//b\"}",
                       &job),
                 CIR_EINVAL);
    cr_assert_not_null(strstr(err, "empty path segment"), "%s", err);
}

/* "audio_tracks" selects, orders and names the audio renditions; a bad
 * one is refused naming the field, and it is part of the upload's
 * identity (another selection publishes another version). */
Test(intake_job, job_document_audio_tracks)
{
    char t1[CIR_PUBLISH_TAG_LEN + 1], t2[CIR_PUBLISH_TAG_LEN + 1];
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"a1\"}", &job), 0, "%s",
                 err);
    cr_expect_eq(job.audio_tracks.nb, 0, "none given: every source track");
    cr_assert_eq(cir_intake_publish_tag(&job, t1), 0);

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"id\":\"a1\",\"audio_tracks\":"
                       "[{\"index\":1,\"language\":\"fr\",\"name\":"
                       "\"Fran\\u00e7ais\"},{\"index\":0}]}",
                       &job),
                 0, "%s", err);
    cr_assert_eq(job.audio_tracks.nb, 2);
    cr_expect_eq(job.audio_tracks.tracks[0].index, 1);
    cr_expect_str_eq(job.audio_tracks.tracks[0].language, "fr");
    cr_expect_str_eq(job.audio_tracks.tracks[0].name, "Fran\xc3\xa7"
                                                      "ais");
    cr_expect_eq(job.audio_tracks.tracks[1].index, 0);
    cr_assert_eq(cir_intake_publish_tag(&job, t2), 0);
    cr_expect_str_neq(t1, t2, "another selection is another output");

    cr_expect_eq(parse("{\"input\":\"a.mp4\",\"audio_tracks\":[{\"index\":"
                       "-2}]}",
                       &job),
                 CIR_EINVAL);
    cr_expect_not_null(strstr(err, "audio_tracks[0].index"), "%s", err);
    cr_expect_eq(parse("{\"input\":\"a.mp4\",\"audio_tracks\":[{\"index\":"
                       "0,\"language\":\"French\"}]}",
                       &job),
                 CIR_EINVAL);
    cr_expect_not_null(strstr(err, "audio_tracks[0].language"), "%s", err);
    cr_expect_eq(parse("{\"input\":\"a.mp4\",\"audio_tracks\":\"all\"}", &job),
                 CIR_EINVAL);
    cr_expect_not_null(strstr(err, "audio_tracks"), "%s", err);
}

/* Which upload a job is: a re-upload of the same key is another one. */
Test(intake_job, source_version_and_publish_tag)
{
    char buf[2048], t1[CIR_PUBLISH_TAG_LEN + 1], t2[CIR_PUBLISH_TAG_LEN + 1];
    cir_vod_job_t job;

    cr_assert_eq(parse(s3_event(buf, sizeof(buf), "a.mp4"), &job), 0);
    cr_assert_str_eq(job.source_version, "sequencer=0055AED6DCD90281E5");
    cr_assert_eq(cir_intake_publish_tag(&job, t1), 0);
    cr_assert_eq(strlen(t1), 64);
    cr_assert_eq(cir_intake_publish_tag(&job, t2), 0);
    cr_assert_str_eq(t1, t2, "a redelivery is the same upload");
    snprintf(job.source_version, sizeof(job.source_version),
             "sequencer=0055AED6DCD90281E6");
    cr_assert_eq(cir_intake_publish_tag(&job, t2), 0);
    cr_assert_str_neq(t1, t2, "a re-upload is another");

    cr_assert_eq(parse("{\"detail-type\":\"Object Created\",\"detail\":{"
                       "\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":"
                       "\"x.mp4\",\"version-id\":\"v7\",\"sequencer\":"
                       "\"01\"}}}",
                       &job),
                 0);
    cr_assert_str_eq(job.source_version, "versionId=v7");
}

Test(intake_job, s3_test_event_is_nothing_to_do)
{
    cir_vod_job_t job;
    cr_assert_eq(parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\","
                       "\"Time\":\"2026-11-27T08:49:51.123Z\",\"Bucket\":"
                       "\"uploads\",\"RequestId\":\"X\",\"HostId\":\"Y\"}",
                       &job),
                 CIR_ENOTFOUND);
}

Test(intake_job, s3_removed_event_is_nothing_to_do)
{
    cir_vod_job_t job;
    cr_assert_eq(parse("{\"Records\":[{\"eventSource\":\"aws:s3\","
                       "\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{"
                       "\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":"
                       "\"a.mp4\"}}}]}",
                       &job),
                 CIR_ENOTFOUND);
    cr_assert_eq(parse("{\"Records\":[]}", &job), CIR_EPARSE);
}

Test(intake_job, preset_from_key_prefix)
{
    char buf[2048], dir[] = "/tmp/cir-presets-XXXXXX", path[256];
    cir_vod_job_t job;
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mobile.json", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{}", f);
    fclose(f);
    s3_event(buf, sizeof(buf), "mobile/talks/t1.mp4");
    cr_assert_eq(cir_intake_parse_job(buf, strlen(buf), "s3://out/vod", dir,
                                      "web", &job, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(job.preset, "mobile");
    cr_assert_str_eq(job.output, "s3://out/vod/mobile/talks/t1");
    /* a prefix that names no preset keeps the default */
    s3_event(buf, sizeof(buf), "talks/t1.mp4");
    cr_assert_eq(cir_intake_parse_job(buf, strlen(buf), "s3://out/vod", dir,
                                      "web", &job, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(job.preset, "web");
    remove(path);
    remove(dir);
}

Test(intake_job, eventbridge_object_created)
{
    cir_vod_job_t job;
    const char *ev =
        "{\"version\":\"0\",\"id\":\"17793124-05d4-b198-2fde-7ededc63b103\","
        "\"detail-type\":\"Object Created\",\"source\":\"aws.s3\","
        "\"account\":\"111122223333\",\"time\":\"2021-11-12T00:00:00Z\","
        "\"region\":\"ca-central-1\",\"resources\":[\"arn:aws:s3:::b\"],"
        "\"detail\":{\"version\":\"0\",\"bucket\":{\"name\":\"b\"},"
        "\"object\":{\"key\":\"in/a+b.mp4\",\"size\":5,\"etag\":\"e\","
        "\"sequencer\":\"00\"},\"request-id\":\"N4N7GDK58NMKJ12R\","
        "\"requester\":\"123456789012\",\"reason\":\"PutObject\"}}";
    cr_assert_eq(parse(ev, &job), 0, "%s", err);
    cr_assert_str_eq(job.input, "s3://b/in/a b.mp4");
    cr_assert_str_eq(job.output, "file:///out/in/a b");
    cr_assert_eq(job.enqueued_us, 1636675200000000LL);
    cr_assert_eq(
        parse("{\"detail-type\":\"Object Deleted\",\"detail\":{}}", &job),
        CIR_ENOTFOUND);
}

Test(intake_job, malformed_huge_deep)
{
    cir_vod_job_t job;
    char *big, *deep;
    size_t n = 300 * 1024;

    cr_assert_lt(parse("{\"input\":", &job), 0);
    cr_assert_lt(parse("", &job), 0);
    cr_assert_lt(parse("{\"input\":\"a\"} trailing", &job), 0);
    big = malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"input\":\"a.mp4\"}", 17);
    big[n] = '\0';
    cr_assert_eq(cir_intake_parse_job(big, n, "/out", NULL, "web", &job, err,
                                      sizeof(err)),
                 CIR_ELIMIT);
    free(big);
    deep = malloc(2000);
    cr_assert_not_null(deep);
    for (int i = 0; i < 999; i++) {
        deep[i] = '[';
        deep[1998 - i] = ']';
    }
    deep[999] = '1';
    deep[1999] = '\0';
    cr_assert_lt(parse(deep, &job), 0);
    free(deep);
}

/* "clip": seconds or "[[hh:]mm:]ss[.fff]"; bad values name the field. */
Test(intake_job, job_clip)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"clip\":{\"start\":12.5,"
                       "\"end\":42}}",
                       &job),
                 0, "%s", err);
    cr_assert_eq(job.clip, 1);
    cr_assert_float_eq(job.clip_start, 12.5, 1e-9);
    cr_assert_float_eq(job.clip_end, 42, 1e-9);
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"clip\":{\"start\":"
                       "\"01:02:03.250\",\"end\":\"62:04\"}}",
                       &job),
                 0, "%s", err);
    cr_assert_float_eq(job.clip_start, 3723.25, 1e-9);
    cr_assert_float_eq(job.clip_end, 3724, 1e-9);
    /* start only: to the end */
    cr_assert_eq(
        parse("{\"input\":\"a.mp4\",\"clip\":{\"start\":\"7.5\"}}", &job), 0,
        "%s", err);
    cr_assert_float_eq(job.clip_start, 7.5, 1e-9);
    cr_assert_float_eq(job.clip_end, 0, 1e-9);
    cr_assert_eq(parse("{\"input\":\"a.mp4\"}", &job), 0);
    cr_assert_eq(job.clip, 0);
}

Test(intake_job, job_clip_refused_with_the_field)
{
    static const struct {
        const char *clip, *msg;
    } cases[] = {
        {"{\"start\":10,\"end\":10}",
         "clip.end: 10 is not after clip.start 10"},
        {"{\"start\":10,\"end\":\"00:00:05\"}",
         "clip.end: 5 is not after clip.start 10"},
        {"{\"start\":-1}", "clip.start: -1 is not a time from 0 to 10000000 s"},
        {"{\"end\":\"1:75\"}",
         "clip.end: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"start\":\"1e3\"}",
         "clip.start: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"start\":\"1.5:00\"}",
         "clip.start: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"start\":\"1:2:3:4\"}",
         "clip.start: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"start\":true}",
         "clip.start: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"begin\":1}", "clip: unknown field \"begin\""},
        {"[1,2]", "clip: expected an object with start, end"},
    };
    char doc[256];
    cir_vod_job_t job;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(doc, sizeof(doc), "{\"input\":\"a.mp4\",\"clip\":%s}",
                 cases[i].clip);
        cr_expect_eq(parse(doc, &job), CIR_EINVAL, "%s", doc);
        cr_expect_str_eq(err, cases[i].msg, "%s", doc);
    }
}

/* "preset" as a whole preset object: checked by the preset parser, its
 * errors under "preset.", kept as compact JSON, named by its name. */
Test(intake_job, job_inline_preset)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":{\"name\":\"tiny\","
                       "\"video\":{\"rungs\":[{\"name\":\"180p\","
                       "\"height\":180, \"bitrate_kbps\":200}]}}}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.preset, "tiny");
    cr_assert_str_eq(job.preset_doc,
                     "{\"name\":\"tiny\",\"video\":{\"rungs\":[{\"name\":"
                     "\"180p\",\"height\":180,\"bitrate_kbps\":200}]}}");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":{\"video\":{"
                       "\"enabled\":false}}}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.preset, "inline");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":{\"video\":{"
                       "\"rungs\":[{\"name\":\"a\",\"height\":180,"
                       "\"bitrate_kbps\":200},{\"name\":\"b\",\"height\":"
                       "90,\"bitrate_kbps\":0}]}}}",
                       &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "preset.video.rungs[1].bitrate_kbps: 0 is below "
                          "the minimum 16");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":{\"colour\":1}}", &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "preset.colour: unknown field");
}

Test(intake_job, job_inline_preset_is_bounded)
{
    size_t size = CIR_JOB_PRESET_MAX + 200, o;
    char *doc = malloc(size);
    cir_vod_job_t *job = malloc(sizeof(*job));

    cr_assert_not_null(doc);
    cr_assert_not_null(job);
    o = (size_t)snprintf(doc, size,
                         "{\"input\":\"a.mp4\",\"preset\":{\"description\":"
                         "\"");
    memset(doc + o, 'x', CIR_JOB_PRESET_MAX);
    o += CIR_JOB_PRESET_MAX;
    snprintf(doc + o, size - o, "\"}}");
    cr_assert_eq(cir_intake_parse_job(doc, strlen(doc), "file:///out/", NULL,
                                      "web", job, err, sizeof(err)),
                 CIR_ELIMIT);
    cr_assert_str_eq(err, "preset: an inline preset of more than 32767 bytes "
                          "of JSON");
    free(doc);
    free(job);
}

/* "rungs": kept as compact JSON; against an inline preset checked at once. */
Test(intake_job, job_rung_overrides)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":\"mobile\",\"rungs\":"
                       "{\"720p\":{\"bitrate_kbps\":2500},\"360p\":null}}",
                       &job),
                 0, "%s", err);
    cr_assert_str_eq(job.rungs,
                     "{\"360p\":null,\"720p\":{\"bitrate_kbps\":2500}}");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"rungs\":[1]}", &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "rungs: expected an object of rung names");
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"preset\":{\"video\":{\"rungs\":"
                       "[{\"name\":\"a\",\"height\":180,\"bitrate_kbps\":"
                       "200}]}},\"rungs\":{\"b\":null}}",
                       &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "rungs.b: the preset has no rung of that name");
}

/* A clip, an inline preset, rung overrides: each another output. */
Test(intake_job, options_in_the_publish_tag)
{
    static const char *docs[] = {
        "{\"input\":\"a.mp4\",\"id\":\"x\"}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"clip\":{\"start\":1}}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"clip\":{\"start\":2}}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"rungs\":{\"720p\":null}}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"preset\":{\"name\":\"web\","
        "\"video\":{\"enabled\":false}}}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"overlay\":{\"image\":"
        "\"a.png\"}}",
        "{\"input\":\"a.mp4\",\"id\":\"x\",\"overlay\":{\"image\":"
        "\"a.png\",\"opacity\":0.5}}",
    };
    char tags[7][CIR_PUBLISH_TAG_LEN + 1];
    cir_vod_job_t job;

    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(parse(docs[i], &job), 0, "%s: %s", docs[i], err);
        cr_assert_eq(cir_intake_publish_tag(&job, tags[i]), 0);
        for (size_t j = 0; j < i; j++) {
            cr_expect_str_neq(tags[i], tags[j], "%s vs %s", docs[i], docs[j]);
        }
    }
}

/* "overlay": cir_overlay_parse's, its errors as they are. */
Test(intake_job, job_overlay)
{
    cir_vod_job_t job;

    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"overlay\":{\"image\":"
                       "\"s3://b/logo.png\",\"position\":\"top-left\"}}",
                       &job),
                 0, "%s", err);
    cr_assert_eq(job.overlay.enabled, 1);
    cr_assert_str_eq(job.overlay.image, "s3://b/logo.png");
    cr_assert_eq(job.overlay.position, CIR_OVERLAY_TOP_LEFT);
    cr_assert_eq(parse("{\"input\":\"a.mp4\"}", &job), 0);
    cr_assert_eq(job.overlay.enabled, 0);
    cr_assert_eq(parse("{\"input\":\"a.mp4\",\"overlay\":{\"image\":"
                       "\"a.png\",\"height\":2}}",
                       &job),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "overlay.height: expected a number > 0 and <= 1");
}
