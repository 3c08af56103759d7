/* The curl side of an AWS request: one attempt's transfer options and
 * timeouts, the abort-aware perform, the clock and the backoff wait. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aws_internal.h"
#include "cir_clock.h"

int64_t
aws_mono_ms(void)
{
    return cir_clock_mono_us(cir_clock_system()) / 1000;
}

uint32_t
aws_random32(void)
{
    uint32_t rnd = 0;

    if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1) {
        rnd = (uint32_t)aws_mono_ms() * 2654435761u;
    }
    return rnd;
}

/* The connect and total timeouts of one attempt. */
static void
set_timeouts(CURL *c, const cir_aws_t *a, const aws_req_t *r)
{
    long total = r->timeout_ms > 0 ? r->timeout_ms
                                   : (long)a->request_timeout_ms + r->extra_ms;
    long connect =
        a->connect_timeout_ms < total ? a->connect_timeout_ms : total;

    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
}

/* The options of one attempt of r on c: URL, headers, timeouts, the
 * response sinks, the method and its body. */
void
aws_transfer_setup(CURL *c, const cir_aws_t *a, aws_req_t *r, const char *url,
                   struct curl_slist *headers)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    set_timeouts(c, a, r);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     r->low_speed_s > 0 ? (long)r->low_speed_s : 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aws_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, aws_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (r->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
    }
}

/* curl_easy_perform, or with an abort flag a multi loop that looks at the
 * flag every ABORT_POLL_MS (curl's progress callback may wait a second on
 * an idle connection): an aborted request stops within that. */
#define ABORT_POLL_MS 50

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A backoff wait, in ABORT_POLL_MS slices when an abort flag may end it. */
void
aws_wait_ms(int64_t ms, const atomic_int *abort_flag)
{
    int64_t end = aws_mono_ms() + ms, left;

    if (abort_flag == NULL) {
        sleep_ms(ms);
        return;
    }
    while (!atomic_load(abort_flag) && (left = end - aws_mono_ms()) > 0) {
        sleep_ms(left < ABORT_POLL_MS ? left : ABORT_POLL_MS);
    }
}

CURLcode
aws_perform(CURL *c, const atomic_int *abort_flag)
{
    CURLM *m;
    CURLcode rc = CURLE_OK;
    CURLMsg *msg;
    int running = 1, left;

    if (abort_flag == NULL) {
        return curl_easy_perform(c);
    }
    if ((m = curl_multi_init()) == NULL) {
        return CURLE_OUT_OF_MEMORY;
    }
    if (curl_multi_add_handle(m, c) != CURLM_OK) {
        curl_multi_cleanup(m);
        return CURLE_OUT_OF_MEMORY;
    }
    while (running) {
        if (atomic_load(abort_flag)) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = CURLE_SEND_ERROR;
            break;
        }
        if (running &&
            curl_multi_poll(m, NULL, 0, ABORT_POLL_MS, NULL) != CURLM_OK) {
            rc = CURLE_RECV_ERROR;
            break;
        }
    }
    while (rc == CURLE_OK && (msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            rc = msg->data.result;
        }
    }
    curl_multi_remove_handle(m, c);
    curl_multi_cleanup(m);
    return rc;
}
