/*
 * Cirrus error codes.
 *
 * 0 is success and a negative value an error.  System errors pass through as
 * -errno (as libuv and FFmpeg do); the project's own errors are the enum
 * below, far below any errno value.  cir_strerror() names both.
 */
#ifndef CIR_ERROR_H
#define CIR_ERROR_H

typedef enum {
    CIR_OK = 0,
    CIR_EAGAIN = -20001,       /* a parser needs more bytes: not an error */
    CIR_EINVAL = -20002,       /* invalid argument or configuration */
    CIR_EPARSE = -20003,       /* malformed input */
    CIR_ELIMIT = -20004,       /* a configured limit was exceeded */
    CIR_ENOTFOUND = -20005,    /* no such object, preset, stream */
    CIR_EUNSUPPORTED = -20006, /* well-formed but not supported */
    CIR_EMEDIA = -20007,       /* input is not usable media */
    CIR_EIO = -20008,          /* storage or network I/O failed */
    CIR_ENOMEM = -20009,       /* out of memory */
    CIR_ETRANSIENT = -20010,   /* temporary failure: retrying may succeed */
    CIR_EAUTH = -20011,        /* authentication or authorisation failed */
    CIR_ECANCELED = -20012,    /* stopped on request */
    CIR_EINTERNAL = -20013,    /* a bug: an invariant did not hold */
    CIR_ERR_LAST = -20014
} cir_err_t;

/* A static, human readable message for a cir_err_t or a negated errno. */
const char *cir_strerror(int err);

/* The enum's symbolic name ("CIR_EMEDIA"), or "errno" for system errors. */
const char *cir_errname(int err);

#endif
