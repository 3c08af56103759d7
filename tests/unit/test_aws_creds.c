/*
 * Credentials and configuration from the environment and the shared
 * credentials file, as AWS tools read them (the container and IMDS sources
 * are covered by tests/integration/aws.test.mjs; here only a loopback
 * container endpoint that stops answering, for the refresh's locking).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN",
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

/* A container credentials endpoint: the first request gets credentials
 * that are valid for 4 more minutes (so due for a refresh), later ones no
 * answer for HOLD_S seconds. */
#define HOLD_S 3

static int srv_fd;

static void *
serve_creds(void *arg)
{
    char req[2048], body[512], expires[32], head[256];
    time_t t = time(NULL) + 240;
    int fds[8], n = 0;

    (void)arg;
    strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(body, sizeof(body),
             "{\"AccessKeyId\":\"AKIDFIRST\",\"SecretAccessKey\":\"s\","
             "\"Token\":\"t\",\"Expiration\":\"%s\"}",
             expires);
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             strlen(body));
    for (int i = 0; i < 8; i++) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) {
            break;
        }
        (void)recv(c, req, sizeof(req), 0);
        if (i == 0) {
            (void)send(c, head, strlen(head), 0);
            (void)send(c, body, strlen(body), 0);
            close(c);
            continue;
        }
        fds[n++] = c; /* held: no answer */
        sleep(HOLD_S);
        break;
    }
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
    return NULL;
}

static void *
refresh(void *arg)
{
    cir_aws_creds_t c;

    return (void *)(intptr_t)cir_aws_credentials(arg, &c);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(aws_creds, a_slow_refresh_does_not_stall_other_callers)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    pthread_t server, refresher;
    cir_aws_t *a = NULL;
    cir_aws_creds_t c;
    char err[128] = "", url[64];
    void *ret;
    int64_t t0;

    clear_env();
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(srv_fd, 8), 0);
    cr_assert_eq(getsockname(srv_fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", ntohs(sa.sin_port));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    cr_assert_eq(pthread_create(&server, NULL, serve_creds, NULL), 0);
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_aws_credentials(a, &c), 0, "%s", cir_aws_last_error());
    cr_assert_str_eq(c.access_key, "AKIDFIRST");

    /* a refresh is due: one thread makes it and waits on the endpoint */
    cr_assert_eq(pthread_create(&refresher, NULL, refresh, a), 0);
    usleep(300000);
    t0 = now_ms();
    cr_assert_eq(cir_aws_credentials(a, &c), 0);
    cr_assert_lt(now_ms() - t0, 500, "took %lld ms: waited on the refresh",
                 (long long)(now_ms() - t0));
    cr_assert_str_eq(c.access_key, "AKIDFIRST", "still valid: still used");
    pthread_join(refresher, &ret);
    cr_assert_eq((intptr_t)ret, 0, "a failed refresh keeps valid ones");
    pthread_join(server, NULL);
    close(srv_fd);
    cir_aws_close(&a);
}
