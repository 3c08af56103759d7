/*
 * The local spool source (see cir_intake_spool.h).  Every state change is a
 * rename inside one file system, so a crash leaves each item in exactly one
 * of incoming/, claimed/, failed/ or done/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_intake_spool.h"
#include "cir_json.h"
#include "cir_storage.h"

#define NAME_MAX_LEN 200  /* item names we accept */
#define SCAN_MAX     4096 /* entries looked at per scan */
#define PATH_LEN     (PATH_MAX + 64)

typedef struct claim {
    char name[NAME_MAX_LEN + 1];
    int attempt;
    int64_t started_us;
    struct claim *next;
} claim_t;

typedef struct {
    cir_intake_t base;
    cir_intake_spool_config_t cfg;
    char dir[PATH_MAX], out_root[CIR_JOB_URI_MAX], presets_dir[PATH_MAX];
    char default_preset[64];
    int64_t last_recover_us;
    claim_t *claims; /* ours, never recovered as stale */
} spool_t;

void
cir_intake_spool_defaults(cir_intake_spool_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->default_preset = "web";
    c->max_attempts = 3;
    c->stale_seconds = 60;
    c->settle_seconds = 1;
    c->retry_backoff_max = 60;
    c->keep_done = 1;
    c->max_job_bytes = 256 * 1024;
}

static int64_t
now_us(const spool_t *s)
{
    return cir_clock_wall_us(s->cfg.clock);
}

static int
path_of(char *out, const spool_t *s, const char *sub, const char *prefix,
        const char *name, const char *suffix)
{
    int n = snprintf(out, PATH_LEN, "%s/%s/%s%s%s", s->dir, sub, prefix, name,
                     suffix);
    return n < 0 || n >= PATH_LEN ? CIR_ELIMIT : 0;
}

static int
ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int64_t
mtime_us(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
}

static void
iso_now(const spool_t *s, char *buf, size_t size)
{
    if (cir_clock_format_iso8601(now_us(s), buf, size) < 0) {
        snprintf(buf, size, "?");
    }
}

/* Reads a claim record; 0 and the fields, or < 0. */
static int
read_claim(const char *path, int *attempt, int64_t *heartbeat_us,
           int64_t *retry_after_us)
{
    json_t *j = NULL;
    char err[128];
    int ret = cir_json_load_file(path, 4096, &j, err, sizeof(err));

    if (ret < 0) {
        return ret;
    }
    *attempt = (int)json_integer_value(json_object_get(j, "attempt"));
    if (heartbeat_us) {
        *heartbeat_us = json_integer_value(json_object_get(j, "heartbeat_us"));
    }
    if (retry_after_us) {
        *retry_after_us =
            json_integer_value(json_object_get(j, "retry_after_us"));
    }
    json_decref(j);
    return *attempt >= 0 && *attempt < 1000000 ? 0 : CIR_EPARSE;
}

static int
write_claim(const spool_t *s, const char *path, int attempt, int64_t started_us,
            int64_t retry_after_us)
{
    char iso[40];
    json_t *j;
    int ret;

    iso_now(s, iso, sizeof(iso));
    j = json_pack("{s:i, s:I, s:I, s:s, s:i}", "attempt", attempt, "started_us",
                  (json_int_t)started_us, "heartbeat_us", (json_int_t)now_us(s),
                  "heartbeat", iso, "pid", (int)getpid());
    if (j == NULL) {
        return CIR_ENOMEM;
    }
    if (retry_after_us > 0) {
        json_object_set_new(j, "retry_after_us",
                            json_integer((json_int_t)retry_after_us));
    }
    ret = cir_json_write_file(path, j);
    json_decref(j);
    return ret;
}

static claim_t *
find_claim(spool_t *s, const char *name, claim_t ***link)
{
    for (claim_t **pp = &s->claims; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            if (link) {
                *link = pp;
            }
            return *pp;
        }
    }
    return NULL;
}

static void
drop_claim(spool_t *s, claim_t *c)
{
    claim_t **link = NULL;

    if (c && find_claim(s, c->name, &link) == c) {
        *link = c->next;
    }
    free(c);
}

/*
 * Puts a claimed item back into incoming/ with its attempt count (and the
 * time before which it is not taken again).
 */
static int
return_item(spool_t *s, const char *name, int attempt, double backoff)
{
    char from[PATH_LEN], to[PATH_LEN], side[PATH_LEN], cl[PATH_LEN];
    int64_t after = backoff > 0 ? now_us(s) + (int64_t)(backoff * 1e6) : 0;
    int ret;

    if ((ret = path_of(from, s, "claimed", "", name, "")) < 0 ||
        (ret = path_of(to, s, "incoming", "", name, "")) < 0 ||
        (ret = path_of(side, s, "incoming", ".", name, ".claim")) < 0 ||
        (ret = path_of(cl, s, "claimed", "", name, ".claim")) < 0) {
        return ret;
    }
    if ((ret = write_claim(s, side, attempt, 0, after)) < 0) {
        return ret;
    }
    if (rename(from, to) < 0) {
        return -errno;
    }
    unlink(cl);
    return 0;
}

/* Moves claimed/NAME (and its claim) to failed/ with an error record. */
static int
park_failed(spool_t *s, const char *name, int attempt, const char *error_json,
            int permanent)
{
    char from[PATH_LEN], to[PATH_LEN], epath[PATH_LEN], cl[PATH_LEN];
    char iso[40];
    json_t *j, *e = NULL;
    int ret;

    if ((ret = path_of(from, s, "claimed", "", name, "")) < 0 ||
        (ret = path_of(to, s, "failed", "", name, "")) < 0 ||
        (ret = path_of(epath, s, "failed", "", name, ".error.json")) < 0 ||
        (ret = path_of(cl, s, "claimed", "", name, ".claim")) < 0) {
        return ret;
    }
    if (error_json) {
        char jerr[64];
        if (cir_json_parse(error_json, strlen(error_json), 64 * 1024, &e, jerr,
                           sizeof(jerr)) < 0) {
            e = json_string(error_json);
        }
    }
    iso_now(s, iso, sizeof(iso));
    j = json_pack("{s:s, s:i, s:b, s:s, s:o}", "item", name, "attempts",
                  attempt, "permanent", permanent, "failed_at", iso, "error",
                  e ? e : json_null());
    if (j == NULL) {
        return CIR_ENOMEM;
    }
    /* the error record first: an item in failed/ always has its reason */
    ret = cir_json_write_file(epath, j);
    json_decref(j);
    if (ret < 0) {
        return ret;
    }
    if (rename(from, to) < 0) {
        return -errno;
    }
    unlink(cl);
    return 0;
}

int
cir_intake_spool_recover(cir_intake_t *src)
{
    spool_t *s = (spool_t *)src;
    char dpath[PATH_LEN], item[PATH_LEN], cl[PATH_LEN];
    int64_t now = now_us(s);
    struct dirent *de;
    DIR *d;
    int n = 0, seen = 0;

    s->last_recover_us = now;
    snprintf(dpath, sizeof(dpath), "%s/claimed", s->dir);
    if ((d = opendir(dpath)) == NULL) {
        return -errno;
    }
    while ((de = readdir(d)) != NULL && seen++ < SCAN_MAX) {
        const char *name = de->d_name;
        int attempt = 1;
        int64_t hb = 0;
        struct stat st;

        if (name[0] == '.' || ends_with_ci(name, ".claim") ||
            strlen(name) > NAME_MAX_LEN || find_claim(s, name, NULL)) {
            continue;
        }
        if (path_of(item, s, "claimed", "", name, "") < 0 ||
            path_of(cl, s, "claimed", "", name, ".claim") < 0 ||
            stat(item, &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (read_claim(cl, &attempt, &hb, NULL) < 0 || hb <= 0) {
            /* died between the claim and its record: the rename's ctime */
            hb = (int64_t)st.st_ctim.tv_sec * 1000000 +
                 st.st_ctim.tv_nsec / 1000;
        }
        if (now - hb < (int64_t)(s->cfg.stale_seconds * 1e6)) {
            continue;
        }
        if (return_item(s, name, attempt, 0) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

typedef struct {
    char name[NAME_MAX_LEN + 1];
    int64_t mtime;
} cand_t;

static int
cand_cmp(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* The incoming items ready to take, oldest first. */
/* The candidates in incoming/, at most max; *err: 0, or why the folder
 * cannot be read (an unmounted volume must not look like an idle one). */
static size_t
scan_incoming(spool_t *s, cand_t *out, size_t max, int *err)
{
    char dpath[PATH_LEN], p[PATH_LEN];
    int64_t now = now_us(s), settle = (int64_t)(s->cfg.settle_seconds * 1e6);
    struct dirent *de;
    size_t n = 0;
    int seen = 0;
    DIR *d;

    *err = 0;
    snprintf(dpath, sizeof(dpath), "%s/incoming", s->dir);
    if ((d = opendir(dpath)) == NULL) {
        *err = -errno;
        return 0;
    }
    while ((de = readdir(d)) != NULL && n < max && seen++ < SCAN_MAX) {
        struct stat st;
        int attempt;
        int64_t after = 0;

        if (de->d_name[0] == '.' || strlen(de->d_name) > NAME_MAX_LEN ||
            path_of(p, s, "incoming", "", de->d_name, "") < 0 ||
            stat(p, &st) < 0 || !S_ISREG(st.st_mode) ||
            now - mtime_us(&st) < settle) {
            continue;
        }
        if (path_of(p, s, "incoming", ".", de->d_name, ".claim") == 0 &&
            read_claim(p, &attempt, NULL, &after) == 0 && after > now) {
            continue; /* backing off after a failure */
        }
        snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
        out[n].mtime = mtime_us(&st);
        n++;
    }
    closedir(d);
    qsort(out, n, sizeof(*out), cand_cmp);
    return n;
}

/* Builds the job of a claimed item; < 0 with err for a bad one. */
static int
build_job(spool_t *s, const char *name, const char *path, int64_t mtime,
          cir_vod_job_t *job, char *err, size_t errsize)
{
    int ret;

    if (ends_with_ci(name, ".json")) {
        char *text = NULL;
        size_t len = 0;
        ret = cir_read_file(path, s->cfg.max_job_bytes, &text, &len);
        if (ret < 0) {
            snprintf(err, errsize, "cannot read the job: %s",
                     cir_strerror(ret));
            return ret;
        }
        ret = cir_intake_parse_job(text, len, s->out_root, s->presets_dir,
                                   s->default_preset, job, err, errsize);
        free(text);
        if (ret < 0) {
            return ret;
        }
        if (job->enqueued_us <= 0) {
            job->enqueued_us = mtime;
        }
    } else {
        char stem[NAME_MAX_LEN + 1], *dot;
        int n;
        snprintf(stem, sizeof(stem), "%s", name);
        dot = strrchr(stem, '.');
        if (dot && dot != stem) {
            *dot = '\0';
        }
        memset(job, 0, sizeof(*job));
        size_t rl = strlen(s->out_root);
        n = snprintf(job->output, sizeof(job->output), "%.*s/%s",
                     (int)(rl && s->out_root[rl - 1] == '/' ? rl - 1 : rl),
                     s->out_root, stem);
        if (!cir_path_is_safe_relative(stem) || n < 0 ||
            (size_t)n >= sizeof(job->output)) {
            snprintf(err, errsize, "the name \"%s\" cannot name an output",
                     name);
            return CIR_EINVAL;
        }
        n = snprintf(job->input, sizeof(job->input), "file://%s", path);
        if (n < 0 || (size_t)n >= sizeof(job->input)) {
            snprintf(err, errsize, "input path too long");
            return CIR_ELIMIT;
        }
        snprintf(job->preset, sizeof(job->preset), "%s", s->default_preset);
        cir_job_id_from_name(stem, job->id, sizeof(job->id));
        job->enqueued_us = mtime;
    }
    return 0;
}

static int
try_claim(spool_t *s, const cand_t *c, cir_vod_job_t *job)
{
    char from[PATH_LEN], to[PATH_LEN], side[PATH_LEN], cl[PATH_LEN];
    char err[512], ejson[1024];
    int attempt = 0, ret;
    claim_t *claim = NULL;

    if ((ret = path_of(from, s, "incoming", "", c->name, "")) < 0 ||
        (ret = path_of(to, s, "claimed", "", c->name, "")) < 0 ||
        (ret = path_of(side, s, "incoming", ".", c->name, ".claim")) < 0 ||
        (ret = path_of(cl, s, "claimed", "", c->name, ".claim")) < 0) {
        return 0;
    }
    /* the atomic claim: only one worker's rename succeeds */
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0) {
        return 0;
    }
    if (read_claim(side, &attempt, NULL, NULL) < 0) {
        attempt = 0;
    }
    attempt++;
    if ((claim = calloc(1, sizeof(*claim))) == NULL) {
        return_item(s, c->name, attempt - 1, 0);
        return CIR_ENOMEM;
    }
    snprintf(claim->name, sizeof(claim->name), "%s", c->name);
    claim->attempt = attempt;
    claim->started_us = now_us(s);
    if ((ret = write_claim(s, cl, attempt, claim->started_us, 0)) < 0) {
        free(claim);
        return_item(s, c->name, attempt - 1, 0);
        return ret;
    }
    unlink(side);

    ret = build_job(s, c->name, to, c->mtime, job, err, sizeof(err));
    if (ret == CIR_ENOTFOUND) {
        /* e.g. an s3:TestEvent: nothing to do */
        free(claim);
        if (s->cfg.keep_done) {
            char done[PATH_LEN];
            if (path_of(done, s, "done", "", c->name, "") == 0) {
                rename(to, done);
            }
        } else {
            unlink(to);
        }
        unlink(cl);
        return 0;
    }
    if (ret < 0) {
        json_t *e =
            json_pack("{s:s, s:s}", "error", err, "code", cir_errname(ret));
        char *t = e ? json_dumps(e, JSON_COMPACT) : NULL;
        snprintf(ejson, sizeof(ejson), "%s", t ? t : "{}");
        free(t);
        json_decref(e);
        free(claim);
        park_failed(s, c->name, attempt, ejson, 1);
        return 0;
    }
    job->attempt = attempt;
    job->handle = claim;
    claim->next = s->claims;
    s->claims = claim;
    return 1;
}

static int
spool_next(cir_intake_t *src, cir_vod_job_t *job, int wait_ms)
{
    spool_t *s = (spool_t *)src;
    const cir_clock_t *mono = cir_clock_system();
    int64_t deadline = cir_clock_mono_us(mono) + (int64_t)wait_ms * 1000;
    cand_t *cands = malloc(sizeof(*cands) * 256);
    int ret = 0;

    if (cands == NULL) {
        return CIR_ENOMEM;
    }
    for (;;) {
        size_t n;
        if (now_us(s) - s->last_recover_us >= 1000000) {
            cir_intake_spool_recover(src);
        }
        n = scan_incoming(s, cands, 256, &ret);
        if (ret < 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            ret = try_claim(s, &cands[i], job);
            if (ret != 0) {
                goto done;
            }
        }
        if (cir_clock_mono_us(mono) >= deadline) {
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
done:
    free(cands);
    return ret;
}

/* Touches only this job's claim file: safe beside the dispatcher's calls. */
static int
spool_heartbeat(cir_intake_t *src, cir_vod_job_t *job, int extend_s,
                int within_ms, const atomic_int *abort)
{
    spool_t *s = (spool_t *)src;
    claim_t *c = job->handle;
    char cl[PATH_LEN];
    int ret;

    (void)extend_s;
    (void)within_ms;
    (void)abort;
    if (c == NULL) {
        return CIR_EINVAL;
    }
    if ((ret = path_of(cl, s, "claimed", "", c->name, ".claim")) < 0) {
        return ret;
    }
    return write_claim(s, cl, c->attempt, c->started_us, 0);
}

static int
spool_ack(cir_intake_t *src, cir_vod_job_t *job)
{
    spool_t *s = (spool_t *)src;
    claim_t *c = job->handle;
    char item[PATH_LEN], cl[PATH_LEN], d1[PATH_LEN], d2[PATH_LEN];
    int ret = 0;

    if (c == NULL) {
        return CIR_EINVAL;
    }
    if (path_of(item, s, "claimed", "", c->name, "") < 0 ||
        path_of(cl, s, "claimed", "", c->name, ".claim") < 0 ||
        path_of(d1, s, "done", "", c->name, "") < 0 ||
        path_of(d2, s, "done", "", c->name, ".claim") < 0) {
        ret = CIR_ELIMIT;
    } else if (s->cfg.keep_done) {
        if (rename(item, d1) < 0) {
            ret = -errno;
        }
        rename(cl, d2);
    } else {
        if (unlink(item) < 0) {
            ret = -errno;
        }
        unlink(cl);
    }
    drop_claim(s, c);
    job->handle = NULL;
    return ret;
}

static int
spool_fail(cir_intake_t *src, cir_vod_job_t *job, const char *error_json,
           int permanent)
{
    spool_t *s = (spool_t *)src;
    claim_t *c = job->handle;
    int ret;

    if (c == NULL) {
        return CIR_EINVAL;
    }
    if (permanent || c->attempt >= s->cfg.max_attempts) {
        ret = park_failed(s, c->name, c->attempt, error_json, permanent);
    } else {
        double backoff = (double)(1 << (c->attempt < 6 ? c->attempt : 6));
        if (backoff > s->cfg.retry_backoff_max) {
            backoff = s->cfg.retry_backoff_max;
        }
        ret = return_item(s, c->name, c->attempt, backoff);
    }
    drop_claim(s, c);
    job->handle = NULL;
    return ret;
}

static int
spool_release(cir_intake_t *src, cir_vod_job_t *job)
{
    spool_t *s = (spool_t *)src;
    claim_t *c = job->handle;
    int ret;

    if (c == NULL) {
        return CIR_EINVAL;
    }
    /* a release (shutdown) does not use up an attempt */
    ret = return_item(s, c->name, c->attempt - 1, 0);
    drop_claim(s, c);
    job->handle = NULL;
    return ret;
}

/* Cancelled by an operator: to cancelled/, never retried. */
static int
spool_cancel(cir_intake_t *src, cir_vod_job_t *job)
{
    spool_t *s = (spool_t *)src;
    claim_t *c = job->handle;
    char item[PATH_LEN], cl[PATH_LEN], to[PATH_LEN];
    int ret = 0;

    if (c == NULL) {
        return CIR_EINVAL;
    }
    if (path_of(item, s, "claimed", "", c->name, "") < 0 ||
        path_of(cl, s, "claimed", "", c->name, ".claim") < 0 ||
        path_of(to, s, "cancelled", "", c->name, "") < 0) {
        ret = CIR_ELIMIT;
    } else if (rename(item, to) < 0) {
        ret = -errno;
    } else {
        unlink(cl);
    }
    drop_claim(s, c);
    job->handle = NULL;
    return ret;
}

/* The claim file stays and goes stale: the item is retried (by a worker
 * that finds it stale) as after a crash. */
static void
spool_abandon(cir_intake_t *src, cir_vod_job_t *job)
{
    spool_t *s = (spool_t *)src;

    if (job->handle != NULL) {
        drop_claim(s, job->handle);
        job->handle = NULL;
    }
}

static void
spool_close(cir_intake_t *src)
{
    spool_t *s = (spool_t *)src;

    if (s == NULL) {
        return;
    }
    while (s->claims) {
        claim_t *c = s->claims;
        s->claims = c->next;
        free(c);
    }
    free(s);
}

static const cir_intake_ops_t spool_ops = {
    .next = spool_next,
    .heartbeat = spool_heartbeat,
    .ack = spool_ack,
    .fail = spool_fail,
    .release = spool_release,
    .abandon = spool_abandon,
    .cancel = spool_cancel,
    .close = spool_close,
};

int
cir_intake_spool_open(cir_intake_t **src, const cir_intake_spool_config_t *cfg,
                      char *err, size_t errsize)
{
    static const char *subs[] = {"incoming", "claimed", "failed", "done",
                                 "cancelled"};
    spool_t *s = NULL;
    char p[PATH_LEN];
    int ret;

    *src = NULL;
    if (cfg->dir == NULL || cfg->out_root == NULL || cfg->max_attempts < 1 ||
        cfg->stale_seconds <= 0 || cfg->settle_seconds < 0 ||
        cfg->default_preset == NULL) {
        snprintf(err, errsize,
                 "spool: dir, out_root, default_preset, "
                 "max_attempts >= 1 and stale_seconds > 0 "
                 "are needed");
        return CIR_EINVAL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return CIR_ENOMEM;
    }
    s->cfg = *cfg;
    if (s->cfg.clock == NULL) {
        s->cfg.clock = cir_clock_system();
    }
    if (s->cfg.max_job_bytes == 0) {
        s->cfg.max_job_bytes = 256 * 1024;
    }
    if ((ret = cir_mkdir_p(cfg->dir, 0755)) < 0 ||
        realpath(cfg->dir, s->dir) == NULL) {
        snprintf(err, errsize, "spool %s: cannot create it", cfg->dir);
        ret = ret < 0 ? ret : -errno;
        goto fail;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", s->dir, subs[i]);
        if ((ret = cir_mkdir_p(p, 0755)) < 0) {
            snprintf(err, errsize, "spool: cannot create %s", p);
            goto fail;
        }
    }
    if (strlen(cfg->out_root) >= sizeof(s->out_root) ||
        strlen(cfg->default_preset) >= sizeof(s->default_preset) ||
        (cfg->presets_dir &&
         strlen(cfg->presets_dir) >= sizeof(s->presets_dir))) {
        snprintf(err, errsize, "spool: a path is too long");
        ret = CIR_ELIMIT;
        goto fail;
    }
    snprintf(s->out_root, sizeof(s->out_root), "%s", cfg->out_root);
    snprintf(s->default_preset, sizeof(s->default_preset), "%s",
             cfg->default_preset);
    snprintf(s->presets_dir, sizeof(s->presets_dir), "%s",
             cfg->presets_dir ? cfg->presets_dir : "");
    s->cfg.dir = s->dir;
    s->cfg.out_root = s->out_root;
    s->cfg.presets_dir = s->presets_dir;
    s->cfg.default_preset = s->default_preset;
    s->base.ops = &spool_ops;
    s->base.name = "spool";
    *src = &s->base;
    return 0;
fail:
    free(s);
    return ret;
}
