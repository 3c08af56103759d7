/* Publication markers: see cir_published.h. */
#include "asset_put.h"
#include "cir_published.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cir_error.h"
#include "cir_json.h"

int
cir_published_tag_is_valid(const char *tag)
{
    size_t n;

    if (tag == NULL) {
        return 0;
    }
    for (n = 0; tag[n] != '\0'; n++) {
        if (!((tag[n] >= '0' && tag[n] <= '9') ||
              (tag[n] >= 'a' && tag[n] <= 'f'))) {
            return 0;
        }
    }
    return n == CIR_PUBLISHED_TAG_LEN;
}

int
cir_published_path(const char *tag, char *out, size_t size)
{
    int n;

    if (!cir_published_tag_is_valid(tag)) {
        return CIR_EINVAL;
    }
    n = snprintf(out, size, ".published/%s.json", tag);
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : 0;
}

static void
copy_field(const json_t *j, const char *name, char *dst, size_t size)
{
    const char *v = json_string_value(json_object_get(j, name));

    snprintf(dst, size, "%s", v != NULL ? v : "");
}

int
cir_published_read(cir_store_t *store, const char *tag, cir_published_t *m)
{
    char path[CIR_PUBLISHED_TAG_LEN + 32], err[160];
    char *text = NULL;
    size_t len = 0;
    json_t *j = NULL;
    int ret;

    if (m != NULL) {
        memset(m, 0, sizeof(*m));
    }
    if ((ret = cir_published_path(tag, path, sizeof(path))) < 0) {
        return ret;
    }
    if (m == NULL) {
        return cir_store_exists(store, path);
    }
    ret = cir_store_get(store, path, CIR_PUBLISHED_MAX, &text, &len);
    if (ret == CIR_EUNSUPPORTED) {
        return cir_store_exists(store, path); /* a backend that cannot read */
    }
    if (ret == CIR_ENOTFOUND) {
        return 0;
    }
    if (ret == CIR_ELIMIT) {
        return 1; /* there, if not ours to read */
    }
    if (ret < 0) {
        return ret;
    }
    if (cir_json_parse(text, len, CIR_PUBLISHED_MAX, &j, err, sizeof(err)) ==
            0 &&
        json_is_object(j)) {
        copy_field(j, "input", m->input, sizeof(m->input));
        copy_field(j, "source_version", m->source_version,
                   sizeof(m->source_version));
        copy_field(j, "version", m->version, sizeof(m->version));
        copy_field(j, "preset", m->preset, sizeof(m->preset));
    }
    json_decref(j);
    free(text);
    return 1;
}

int
cir_published_write(cir_store_t *store, const char *tag,
                    const cir_published_t *m)
{
    char path[CIR_PUBLISHED_TAG_LEN + 32];
    char *text = NULL;
    json_t *j;
    int ret;

    if ((ret = cir_published_path(tag, path, sizeof(path))) < 0) {
        return ret;
    }
    j = json_pack("{s:s, s:s, s:s, s:s}", "input", m->input, "source_version",
                  m->source_version, "version", m->version, "preset",
                  m->preset);
    if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
        ret = CIR_ENOMEM;
    } else {
        ret = cir_asset_put(store, CIR_ASSET_TOP, path, text, strlen(text));
    }
    free(text);
    json_decref(j);
    return ret;
}
