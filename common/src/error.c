/*
 * The project's error codes (cir_error.h): their names and messages.
 */
#include <string.h>

#include "cir_error.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} errors[] = {
    {CIR_OK, "CIR_OK", "success"},
    {CIR_EAGAIN, "CIR_EAGAIN", "more input needed"},
    {CIR_EINVAL, "CIR_EINVAL", "invalid argument or configuration"},
    {CIR_EPARSE, "CIR_EPARSE", "malformed input"},
    {CIR_ELIMIT, "CIR_ELIMIT", "configured limit exceeded"},
    {CIR_ENOTFOUND, "CIR_ENOTFOUND", "not found"},
    {CIR_EUNSUPPORTED, "CIR_EUNSUPPORTED", "not supported"},
    {CIR_EMEDIA, "CIR_EMEDIA", "input is not usable media"},
    {CIR_EIO, "CIR_EIO", "input/output error"},
    {CIR_ENOMEM, "CIR_ENOMEM", "out of memory"},
    {CIR_ETRANSIENT, "CIR_ETRANSIENT", "temporary failure"},
    {CIR_EAUTH, "CIR_EAUTH", "authentication failed"},
    {CIR_ECANCELED, "CIR_ECANCELED", "canceled"},
    {CIR_EINTERNAL, "CIR_EINTERNAL", "internal error"},
};

static int
find(int err)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].code == err) {
            return (int)i;
        }
    }
    return -1;
}

const char *
cir_strerror(int err)
{
    int i = find(err);

    if (i >= 0) {
        return errors[i].text;
    }
    if (err < 0 && err > -4096) {
        return strerror(-err);
    }
    return "unknown error";
}

const char *
cir_errname(int err)
{
    int i = find(err);

    if (i >= 0) {
        return errors[i].name;
    }
    return (err < 0 && err > -4096) ? "errno" : "unknown";
}
