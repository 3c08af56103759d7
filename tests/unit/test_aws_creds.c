/*
 * Credentials and configuration from the environment and the shared
 * credentials file, as AWS tools read them (no network: the container and
 * IMDS sources are covered by tests/integration/aws.test.mjs).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_aws.h"
#include "cir_error.h"

static char path[64];

static void
clear_env(void)
{
    static const char *vars[] = {"AWS_ACCESS_KEY_ID",
                                 "AWS_SECRET_ACCESS_KEY",
                                 "AWS_SESSION_TOKEN",
                                 "AWS_PROFILE",
                                 "AWS_SHARED_CREDENTIALS_FILE",
                                 "AWS_REGION",
                                 "AWS_DEFAULT_REGION",
                                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                 "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                 "AWS_ENDPOINT_URL",
                                 "AWS_ENDPOINT_URL_S3"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("HOME", "/nonexistent", 1);
}

static void
write_profiles(void)
{
    int fd;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/cirrus-creds-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs("# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
          "aws_secret_access_key=secretdefault\n\n"
          "[ci]\r\n  aws_access_key_id=AKIDCI  \r\n"
          "aws_secret_access_key = secret/ci+x\r\n"
          "aws_session_token = tok==\r\n[other]\naws_access_key_id=NO\n",
          f);
    fclose(f);
}

Test(aws_creds, environment_wins)
{
    cir_aws_t *a = NULL;
    cir_aws_creds_t c;
    char err[128];

    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "tokenv", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_aws_credentials(a, &c), 0);
    cr_assert_str_eq(c.access_key, "AKIDENV");
    cr_assert_str_eq(c.secret_key, "secretenv");
    cr_assert_str_eq(c.token, "tokenv");
    cr_assert_eq(c.expires, 0);
    cr_assert_str_eq(cir_aws_region(a), "eu-west-3");
    cir_aws_close(&a);
    cr_assert_null(a);
}

Test(aws_creds, named_profile_from_the_shared_file)
{
    cir_aws_t *a = NULL;
    cir_aws_creds_t c;
    char err[128];

    clear_env();
    write_profiles();
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_PROFILE", "ci", 1);
    setenv("AWS_REGION", "ap-south-1", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_aws_credentials(a, &c), 0);
    cr_assert_str_eq(c.access_key, "AKIDCI");
    cr_assert_str_eq(c.secret_key, "secret/ci+x");
    cr_assert_str_eq(c.token, "tok==");
    cr_assert_str_eq(cir_aws_region(a), "ap-south-1", "AWS_REGION first");
    cir_aws_close(&a);

    unsetenv("AWS_PROFILE");
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_aws_credentials(a, &c), 0);
    cr_assert_str_eq(c.access_key, "AKIDDEFAULT");
    cr_assert_str_eq(c.token, "");
    cir_aws_close(&a);
    unlink(path);
}

Test(aws_creds, nothing_found_is_an_auth_error)
{
    cir_aws_t *a = NULL;
    char err[128] = "";

    clear_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), CIR_EAUTH);
    cr_assert_null(a);
    cr_assert_str_eq(err, "no AWS credentials found");
}
