/*
 * The VOD worker pool (see cir_pool.h): one mutex guards the job queue, the
 * done queue and the slots; each worker has its own cancel flag, which
 * cir_transcode_run polls.  Everything is bounded: queued jobs by
 * queue_max, done records by workers + queue_max.
 *
 * Each job's done record is allocated when it is submitted, so once
 * cir_pool_submit() has accepted a job nothing can keep it from coming back
 * through cir_pool_next_done(): finished, failed or cancelled.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_pool.h"

typedef struct done_node {
    cir_pool_done_t d;
    struct done_node *next;
} done_node_t;

typedef struct task {
    char *id, *input, *output;
    cir_preset_t preset;
    unsigned only;
    cir_audio_tracks_t audio_tracks;
    cir_subtitle_specs_t *subtitles; /* NULL: none */
    cir_encryption_t encryption;     /* CIR_ENC_NONE: clear */
    int clip;
    double clip_start, clip_end;
    cir_overlay_t overlay; /* enabled 0: none */
    void *user;
    int64_t queued_us;
    done_node_t *done; /* allocated at submit, handed to the done queue */
    struct task *next;
} task_t;

typedef struct {
    cir_pool_t *pool;
    pthread_t thread;
    int started;
    task_t *task; /* running, or NULL */
    atomic_int cancel;
    cir_progress_t progress;
    int64_t started_us;
} slot_t;

struct cir_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, done_cond;
    task_t *head, *tail;
    int nqueued, nrunning, ndone;
    done_node_t *dhead, *dtail;
    int stopping, quit;
    int workers, queue_max;
    slot_t *slots;
};

static int64_t
mono_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

static void
task_free(task_t *t)
{
    if (t) {
        free(t->id);
        free(t->input);
        free(t->output);
        free(t->subtitles);
        cir_encryption_clear(&t->encryption);
        free(t->done);
        free(t);
    }
}

/* Called with the lock held; takes ownership of nothing. */
static void
push_done(cir_pool_t *p, done_node_t *n)
{
    n->next = NULL;
    if (p->dtail) {
        p->dtail->next = n;
    } else {
        p->dhead = n;
    }
    p->dtail = n;
    p->ndone++;
    pthread_cond_broadcast(&p->done_cond);
}

/* Called with the lock held: the task's own done record goes to the done
 * queue (started_us 0 if it never ran); the task is freed. */
static void
finish_task(cir_pool_t *p, task_t *t, int ret, int64_t started_us)
{
    done_node_t *n = t->done;

    t->done = NULL;
    n->d.user = t->user;
    n->d.ret = ret;
    n->d.queued_us = t->queued_us;
    n->d.started_us = started_us;
    n->d.finished_us = started_us ? mono_us() : 0;
    snprintf(n->d.id, sizeof(n->d.id), "%s", t->id);
    push_done(p, n);
    task_free(t);
}

static void
on_progress(void *opaque, const cir_progress_t *pr)
{
    slot_t *s = opaque;

    pthread_mutex_lock(&s->pool->lock);
    s->progress = *pr;
    pthread_mutex_unlock(&s->pool->lock);
}

static void *
worker_main(void *arg)
{
    slot_t *s = arg;
    cir_pool_t *p = s->pool;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && (p->stopping || p->head == NULL)) {
            pthread_cond_wait(&p->work, &p->lock);
        }
        if (p->quit) {
            break;
        }
        task_t *t = p->head;
        p->head = t->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->nqueued--;
        p->nrunning++;
        s->task = t;
        s->started_us = mono_us();
        memset(&s->progress, 0, sizeof(s->progress));
        s->progress.percent = -1;
        atomic_store(&s->cancel, 0);
        pthread_mutex_unlock(&p->lock);

        cir_job_t job = {.input = t->input,
                         .output = t->output,
                         .preset = &t->preset,
                         .only = t->only,
                         .audio_tracks = &t->audio_tracks,
                         .subtitles = t->subtitles,
                         .encryption = &t->encryption,
                         .clip = t->clip,
                         .clip_start = t->clip_start,
                         .clip_end = t->clip_end,
                         .overlay = &t->overlay,
                         .job_id = t->id,
                         .progress = on_progress,
                         .opaque = s,
                         .cancel = &s->cancel};
        int ret = cir_transcode_run(&job, &t->done->d.result);

        pthread_mutex_lock(&p->lock);
        s->task = NULL;
        p->nrunning--;
        finish_task(p, t, ret, s->started_us);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int
cir_pool_new(cir_pool_t **pool, const cir_pool_config_t *cfg)
{
    cir_pool_t *p;
    int ret = 0;

    *pool = NULL;
    if (cfg->workers < 1 || cfg->workers > CIR_POOL_MAX_WORKERS ||
        cfg->queue_max < 0 || cfg->queue_max > 100000) {
        return CIR_EINVAL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return CIR_ENOMEM;
    }
    p->workers = cfg->workers;
    p->queue_max = cfg->queue_max;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done_cond, NULL);
    if ((p->slots = calloc((size_t)p->workers, sizeof(*p->slots))) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < p->workers; i++) {
        p->slots[i].pool = p;
        if (pthread_create(&p->slots[i].thread, NULL, worker_main,
                           &p->slots[i]) != 0) {
            ret = CIR_ENOMEM;
            goto fail;
        }
        p->slots[i].started = 1;
    }
    *pool = p;
    return 0;
fail:
    cir_pool_free(&p);
    return ret;
}

/* The task's subtitles, checked by the intake already: a refusal here is
 * a caller's bug. */
static int
parse_subtitles(task_t *t, const char *json)
{
    char err[256];

    if ((t->subtitles = calloc(1, sizeof(*t->subtitles))) == NULL) {
        return CIR_ENOMEM;
    }
    return cir_subtitle_specs_parse_text(json, t->subtitles, err, sizeof(err));
}

int
cir_pool_submit(cir_pool_t *p, const cir_pool_task_t *in)
{
    task_t *t = NULL;
    int ret = 0;

    if (in->input == NULL || in->output == NULL || in->preset == NULL) {
        return CIR_EINVAL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->id = strdup(in->id ? in->id : "")) == NULL ||
        (t->input = strdup(in->input)) == NULL ||
        (t->output = strdup(in->output)) == NULL ||
        (t->done = calloc(1, sizeof(*t->done))) == NULL) {
        task_free(t);
        return CIR_ENOMEM;
    }
    if (in->subtitles != NULL && in->subtitles[0] != '\0' &&
        (ret = parse_subtitles(t, in->subtitles)) < 0) {
        task_free(t);
        return ret;
    }
    t->preset = *in->preset;
    t->only = in->only;
    if (in->audio_tracks != NULL) {
        t->audio_tracks = *in->audio_tracks;
    }
    if (in->encryption != NULL) {
        t->encryption = *in->encryption;
    }
    t->clip = in->clip;
    t->clip_start = in->clip_start;
    t->clip_end = in->clip_end;
    if (in->overlay != NULL) {
        t->overlay = *in->overlay;
    }
    t->user = in->user;
    t->queued_us = mono_us();

    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->quit) {
        ret = CIR_ECANCELED;
    } else if (p->nqueued >= p->queue_max + (p->workers - p->nrunning) ||
               p->nqueued + p->nrunning + p->ndone >=
                   p->workers + p->queue_max) {
        ret = CIR_ELIMIT;
    } else {
        if (p->tail) {
            p->tail->next = t;
        } else {
            p->head = t;
        }
        p->tail = t;
        p->nqueued++;
        t = NULL;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    task_free(t);
    return ret;
}

int
cir_pool_free_workers(cir_pool_t *p)
{
    int n;

    pthread_mutex_lock(&p->lock);
    n = p->workers - p->nrunning - p->nqueued;
    pthread_mutex_unlock(&p->lock);
    return n > 0 ? n : 0;
}

int
cir_pool_next_done(cir_pool_t *p, cir_pool_done_t *out, int wait_ms)
{
    done_node_t *n = NULL;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (p->dhead == NULL && wait_ms > 0) {
        if (pthread_cond_timedwait(&p->done_cond, &p->lock, &ts) != 0) {
            break;
        }
    }
    if ((n = p->dhead) != NULL) {
        p->dhead = n->next;
        if (p->dhead == NULL) {
            p->dtail = NULL;
        }
        p->ndone--;
    }
    pthread_mutex_unlock(&p->lock);
    if (n == NULL) {
        return 0;
    }
    *out = n->d;
    free(n);
    return 1;
}

void
cir_pool_shutdown(cir_pool_t *p, int cancel_running)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    while (p->head) {
        task_t *t = p->head;
        p->head = t->next;
        p->nqueued--;
        finish_task(p, t, CIR_ECANCELED, 0);
    }
    p->tail = NULL;
    if (cancel_running) {
        for (int i = 0; i < p->workers; i++) {
            atomic_store(&p->slots[i].cancel, 1);
        }
    }
    pthread_mutex_unlock(&p->lock);
}

int
cir_pool_cancel(cir_pool_t *p, const void *user)
{
    task_t *prev = NULL, *t;
    int found = 0;

    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->workers; i++) {
        if (p->slots[i].task != NULL && p->slots[i].task->user == user) {
            atomic_store(&p->slots[i].cancel, 1);
            found = 1;
        }
    }
    for (t = p->head; !found && t != NULL; prev = t, t = t->next) {
        if (t->user != user) {
            continue;
        }
        if (prev != NULL) {
            prev->next = t->next;
        } else {
            p->head = t->next;
        }
        if (p->tail == t) {
            p->tail = prev;
        }
        p->nqueued--;
        finish_task(p, t, CIR_ECANCELED, 0);
        found = 1;
        break;
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

size_t
cir_pool_snapshot(cir_pool_t *p, cir_pool_slot_t *slots, size_t max)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < max && i < (size_t)p->workers; i++) {
        const slot_t *s = &p->slots[i];
        memset(&slots[i], 0, sizeof(slots[i]));
        slots[i].busy = s->task != NULL;
        if (s->task) {
            snprintf(slots[i].id, sizeof(slots[i].id), "%s", s->task->id);
            slots[i].user = s->task->user;
            slots[i].progress = s->progress;
            slots[i].started_us = s->started_us;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return (size_t)p->workers;
}

void
cir_pool_free(cir_pool_t **pp)
{
    cir_pool_t *p = *pp;

    if (p == NULL) {
        return;
    }
    if (p->slots) {
        cir_pool_shutdown(p, 1);
        pthread_mutex_lock(&p->lock);
        p->quit = 1;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->workers; i++) {
            if (p->slots[i].started) {
                pthread_join(p->slots[i].thread, NULL);
            }
        }
    }
    while (p->dhead) {
        done_node_t *n = p->dhead;
        p->dhead = n->next;
        free(n);
    }
    free(p->slots);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done_cond);
    free(p);
    *pp = NULL;
}
