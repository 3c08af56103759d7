/*
 * cirrus-aws-tool: drives the AWS client from the integration tests.
 *
 *   s3-put URI FILE [--content-type T] [--cache-control C] [--multipart]
 *          [--meta name=value]
 *   s3-get URI FILE|-        s3-range URI OFFSET LEN FILE
 *   s3-head URI              s3-delete URI        s3-list URI
 *   sqs-send QUEUE_URL BODY  sqs-recv QUEUE_URL [WAIT_S] [--delete]
 *   batch-submit NAME QUEUE DEFINITION [k=v...]
 *
 * Exit: 0 ok, 2 usage, 3 auth (CIR_EAUTH), 4 not found, 5 transient, 1 other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_storage.h"

static int
finish(int ret)
{
    if (ret >= 0) {
        return 0;
    }
    fprintf(stderr, "error: %s: %s\n", cir_errname(ret),
            cir_aws_last_error()[0] ? cir_aws_last_error() : cir_strerror(ret));
    switch (ret) {
    case CIR_EAUTH:
        return 3;
    case CIR_ENOTFOUND:
        return 4;
    case CIR_ETRANSIENT:
        return 5;
    default:
        return 1;
    }
}

static int
print(void *o, const char *key, int64_t size)
{
    (void)o;
    printf("%s\t%lld\n", key, (long long)size);
    return 0;
}

static int
parse_s3(const char *s, cir_uri_t *u)
{
    if (cir_uri_parse(s, u) < 0 || u->scheme != CIR_URI_S3) {
        fprintf(stderr, "not an s3:// URI: %s\n", s);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static cir_uri_t u;
    cir_aws_t *a = NULL;
    char err[256];
    int ret;

    if (argc < 3) {
        fprintf(stderr, "usage: see the header of aws_tool.c\n");
        return 2;
    }
    if ((ret = cir_aws_open(&a, err, sizeof(err))) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return 3;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "s3-put") == 0 && argc >= 4) {
        cir_s3_put_opts_t o = {0};
        cir_aws_kv_t meta[8];
        int multipart = 0;
        char *data = NULL;
        size_t len = 0;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--content-type") == 0 && i + 1 < argc) {
                o.content_type = argv[++i];
            } else if (strcmp(argv[i], "--cache-control") == 0 &&
                       i + 1 < argc) {
                o.cache_control = argv[++i];
            } else if (strcmp(argv[i], "--multipart") == 0) {
                multipart = 1;
            } else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc &&
                       o.nmeta < 8) {
                char *eq = strchr(argv[++i], '=');
                if (eq == NULL) {
                    return 2;
                }
                *eq = '\0';
                meta[o.nmeta++] = (cir_aws_kv_t){argv[i], eq + 1};
            }
        }
        o.meta = meta;
        if (parse_s3(argv[2], &u) < 0) {
            return 2;
        }
        if ((ret = cir_read_file(argv[3], (size_t)1 << 31, &data, &len)) < 0) {
            return finish(ret);
        }
        ret = multipart ? cir_s3_put_multipart(a, u.bucket, u.path, data, len,
                                               5u << 20, &o)
                        : cir_s3_put(a, u.bucket, u.path, data, len, &o);
        free(data);
    } else if (strcmp(cmd, "s3-get") == 0 && argc >= 4) {
        cir_buf_t b;
        if (parse_s3(argv[2], &u) < 0) {
            return 2;
        }
        cir_buf_init(&b, (size_t)1 << 31);
        ret = cir_s3_get(a, u.bucket, u.path, (size_t)1 << 31, &b);
        if (ret == 0) {
            FILE *f = strcmp(argv[3], "-") ? fopen(argv[3], "wb") : stdout;
            if (f == NULL || (b.len && fwrite(b.data, 1, b.len, f) != b.len)) {
                ret = CIR_EIO;
            }
            if (f != NULL && f != stdout) {
                fclose(f);
            }
        }
        cir_buf_free(&b);
    } else if (strcmp(cmd, "s3-range") == 0 && argc >= 6) {
        long long off = strtoll(argv[3], NULL, 10);
        long long n = strtoll(argv[4], NULL, 10);
        size_t got = 0;
        char *buf;
        if (parse_s3(argv[2], &u) < 0 || off < 0 || n <= 0 || n > (1 << 30) ||
            (buf = malloc((size_t)n)) == NULL) {
            return 2;
        }
        ret = cir_s3_get_range(a, u.bucket, u.path, off, (size_t)n, buf, &got,
                               NULL);
        if (ret == 0) {
            FILE *f = fopen(argv[5], "wb");
            if (f == NULL || (got && fwrite(buf, 1, got, f) != got)) {
                ret = CIR_EIO;
            }
            if (f != NULL) {
                fclose(f);
            }
        }
        free(buf);
    } else if (strcmp(cmd, "s3-head") == 0) {
        cir_s3_head_t h;
        if (parse_s3(argv[2], &u) < 0) {
            return 2;
        }
        if ((ret = cir_s3_head(a, u.bucket, u.path, &h, NULL)) == 0) {
            json_t *j =
                json_pack("{sI ss ss ss}", "size", (json_int_t)h.size, "etag",
                          h.etag, "content_type", h.content_type,
                          "cache_control", h.cache_control);
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        }
    } else if (strcmp(cmd, "s3-delete") == 0) {
        if (parse_s3(argv[2], &u) < 0) {
            return 2;
        }
        ret = cir_s3_delete(a, u.bucket, u.path);
    } else if (strcmp(cmd, "s3-list") == 0) {
        if (parse_s3(argv[2], &u) < 0) {
            return 2;
        }
        ret = cir_s3_list(a, u.bucket, u.path, print, NULL);
    } else if (strcmp(cmd, "sqs-send") == 0 && argc >= 4) {
        char id[128];
        if ((ret = cir_sqs_send(a, argv[2], argv[3], id, sizeof(id))) == 0) {
            printf("%s\n", id);
        }
    } else if (strcmp(cmd, "sqs-recv") == 0) {
        cir_sqs_msg_t m[10];
        int wait = argc >= 4 && argv[3][0] != '-' ? atoi(argv[3]) : 0;
        int del = argc >= 4 && strcmp(argv[argc - 1], "--delete") == 0;
        ret = cir_sqs_receive(a, argv[2], 10, wait, 0, m);
        if (ret >= 0) {
            json_t *arr = json_array();
            for (int i = 0; i < ret; i++) {
                json_array_append_new(arr, json_pack("{ss ss si}", "id",
                                                     m[i].id, "body", m[i].body,
                                                     "receive_count",
                                                     m[i].receive_count));
                if (del) {
                    cir_sqs_delete(a, argv[2], m[i].receipt);
                }
                cir_sqs_msg_free(&m[i]);
            }
            json_dumpf(arr, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(arr);
            ret = 0;
        }
    } else if (strcmp(cmd, "batch-submit") == 0 && argc >= 5) {
        cir_aws_kv_t p[16];
        size_t np = 0;
        char id[256];
        for (int i = 5; i < argc && np < 16; i++) {
            char *eq = strchr(argv[i], '=');
            if (eq != NULL) {
                *eq = '\0';
                p[np++] = (cir_aws_kv_t){argv[i], eq + 1};
            }
        }
        if ((ret = cir_batch_submit(a, argv[2], argv[3], argv[4], p, np, id,
                                    sizeof(id))) == 0) {
            printf("%s\n", id);
        }
    } else {
        fprintf(stderr, "unknown command or missing arguments: %s\n", cmd);
        cir_aws_close(&a);
        return 2;
    }
    cir_aws_close(&a);
    return finish(ret);
}
