/*
 * The server's applications (rtmp://host/APP/KEY): their settings from
 * cir_ingest_apps_parse, their key files (reloaded on change and SIGHUP),
 * presets and push lists; refusing an application that is not
 * configured; a stream's push destinations (its key's own or its
 * application's).
 *
 * Tested by tests/integration/ingest_apps.test.mjs (the parsing by
 * tests/unit/test_ingest_apps.c).
 */

#include "cir_speke.h"
#include "server_internal.h"

srv_app_t *
srv_app_find(cir_ingest_t *s, const char *name)
{
    for (size_t i = 0; name != NULL && i < s->napps; i++) {
        if (strcmp(s->apps[i].cfg.name, name) == 0) {
            return &s->apps[i];
        }
    }
    return NULL;
}

#define REFUSED_LOG_BURST 10 /* refusals logged a second at most */

void
srv_app_refused(cir_ingest_t *s, const char *name, const char *what)
{
    char more[64] = "";
    int64_t now = srv_now_us();

    atomic_fetch_add(&s->refused_unknown_app, 1);
    /* a flood of connects is not a flood of log lines */
    if (now - s->app_refused_window_us >= 1000000) {
        s->app_refused_window_us = now;
        s->app_refused_logged = 0;
    }
    if (s->app_refused_logged++ >= REFUSED_LOG_BURST) {
        s->app_refused_unlogged++;
        return;
    }
    if (s->app_refused_unlogged > 0) {
        snprintf(more, sizeof(more), " (%llu more refused before, not logged)",
                 (unsigned long long)s->app_refused_unlogged);
        s->app_refused_unlogged = 0;
    }
    /* name is [A-Za-z0-9_-] when set: safe to log */
    cir_log_warn(&s->log, "%s: unknown application \"%s\": refused%s", what,
                 name != NULL ? name : "(not a name)", more);
}

/*
 * The application's live encryption: the VOD job's "encryption" object
 * (cir_encryption_parse_text: key file read, or the key provider asked
 * once, now), cenc or cbcs.  Errors name the field, never the key.
 */
static int
app_load_encryption(cir_ingest_t *s, srv_app_t *a)
{
    const cir_ingest_app_config_t *c = &a->cfg;
    char err[768];
    int ret;

    /* {}: clear (an application's own over a global encryption) */
    if (c->encryption[0] == '\0' || strcmp(c->encryption, "{}") == 0) {
        return 0;
    }
    ret = cir_live_encryption_parse_text(c->encryption, &a->enc,
                                         &a->rotate_segments, err, sizeof(err));
    if (ret == 0 && a->enc.scheme != CIR_ENC_CENC &&
        a->enc.scheme != CIR_ENC_CBCS) {
        snprintf(err, sizeof(err),
                 "encryption.scheme: %s is not supported live (cenc or cbcs)",
                 cir_encryption_scheme_name(a->enc.scheme));
        ret = CIR_EINVAL;
    }
    if (ret == 0 && c->record_uri[0] != '\0') {
        snprintf(err, sizeof(err),
                 "encryption: not with record_uri (a recording would be "
                 "encrypted media under clear manifests)");
        ret = CIR_EINVAL;
    }
    if (ret == 0) {
        ret = cir_speke_resolve(&a->enc, err, sizeof(err));
    }
    if (ret < 0) {
        cir_encryption_clear(&a->enc);
        cir_log_error(&s->log, "application %s: %s", c->name, err);
        return ret;
    }
    {
        char kid[33];
        cir_encryption_hex(a->enc.key_id, kid);
        cir_log_info(&s->log, "application %s: %s encryption, key ID %s%s",
                     c->name, cir_encryption_scheme_name(a->enc.scheme), kid,
                     a->rotate_segments ? " (the first crypto period's)" : "");
    }
    return 0;
}

/* The key file and the preset one application names. */
static int
app_load(cir_ingest_t *s, srv_app_t *a)
{
    const cir_ingest_app_config_t *c = &a->cfg;
    int ret;

    if ((ret = app_load_encryption(s, a)) < 0) {
        return ret;
    }
    if (c->key_file[0] != '\0' &&
        (ret = cir_keyfile_load(&a->keys, c->key_file, 1)) < 0) {
        cir_log_error(&s->log, "application %s: key file %s: %s", c->name,
                      c->key_file, cir_strerror(ret));
        return ret;
    }
    if (c->key_file[0] != '\0' && a->keys.bad_lines > 0) {
        cir_log_warn(
            &s->log, "application %s: key file %s: %zu lines skipped (%s)",
            c->name, c->key_file, a->keys.bad_lines, a->keys.first_bad);
    }
    if (c->preset[0] != '\0') {
        char perr[400];
        const char *dir = cir_preset_dir(s->cfg.presets_dir);
        if ((ret = cir_preset_codecs_load(dir, c->preset, &a->preset, perr,
                                          sizeof(perr))) < 0) {
            cir_log_error(&s->log, "application %s: preset %s in %s: %s",
                          c->name, c->preset, dir, perr);
            return ret;
        }
        a->have_preset = 1;
    }
    if (c->key_file[0] == '\0' && c->on_publish_url[0] == '\0') {
        cir_log_warn(&s->log,
                     "application %s: no key_file or on_publish_url: every "
                     "stream key is accepted",
                     c->name);
    }
    cir_log_info(&s->log, "application %s: live_root=%s preset=%s", c->name,
                 c->live_root, a->have_preset ? c->preset : "none");
    return 0;
}

int
srv_apps_load(cir_ingest_t *s)
{
    cir_ingest_app_config_t *cfgs;
    char err[1024];
    size_t n;
    int ret;

    if ((ret = cir_ingest_apps_parse(&s->cfg, &cfgs, &n, err, sizeof(err))) <
        0) {
        cir_log_error(&s->log, "%s", err);
        return ret;
    }
    s->apps = calloc(n, sizeof(*s->apps));
    if (s->apps == NULL) {
        free(cfgs);
        return CIR_ENOMEM;
    }
    s->napps = n;
    for (size_t i = 0; i < n; i++) {
        s->apps[i].cfg = cfgs[i];
    }
    free(cfgs);
    for (size_t i = 0; i < n; i++) {
        if ((ret = app_load(s, &s->apps[i])) < 0) {
            return ret;
        }
    }
    return 0;
}

void
srv_apps_free(cir_ingest_t *s)
{
    for (size_t i = 0; i < s->napps; i++) {
        cir_keyfile_free(&s->apps[i].keys);
        cir_encryption_clear(&s->apps[i].enc);
    }
    free(s->apps);
    s->apps = NULL;
    s->napps = 0;
}

void
srv_apps_reload_keys(cir_ingest_t *s)
{
    for (size_t i = 0; i < s->napps; i++) {
        srv_app_t *a = &s->apps[i];
        int ret;
        if (a->cfg.key_file[0] == '\0') {
            continue;
        }
        ret = cir_keyfile_load(&a->keys, a->cfg.key_file, 1);
        cir_log_info(&s->log,
                     "SIGHUP: application %s: key file reloaded (%s), %zu "
                     "lines skipped%s%s",
                     a->cfg.name, ret < 0 ? cir_strerror(ret) : "ok",
                     a->keys.bad_lines, a->keys.bad_lines > 0 ? ": " : "",
                     a->keys.first_bad);
    }
}

int
srv_push_wanted(const stream_t *st)
{
    const srv_app_t *a = st->app;

    return a->npush > 0 || (a->keys.push != NULL &&
                            cir_keyfile_push(&a->keys, st->key) != NULL);
}

void
srv_push_targets(stream_t *st, cir_rtmp_url_t urls[SRV_PUSH_MAX], size_t *n)
{
    srv_app_t *a = st->app;
    const char *own = NULL;
    char err[400];

    if (a->cfg.key_file[0] != '\0') {
        own = cir_keyfile_push(&a->keys, st->key);
    }
    if (own != NULL) {
        /* checked when the key file was read */
        if (cir_rtmp_url_list_parse(own, urls, SRV_PUSH_MAX, n, err,
                                    sizeof(err)) == 0) {
            return;
        }
        cir_log_warn(&st->log, "the key's push list: %s", err);
    }
    memcpy(urls, a->push_urls, a->npush * sizeof(*urls));
    *n = a->npush;
}
