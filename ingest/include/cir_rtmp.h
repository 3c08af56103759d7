/*
 * RTMP, pure: the handshake, the chunk stream reader and writer, AMF0, FLV
 * tags, and the server side of one connection's protocol (connect, publish,
 * control messages) as a state machine fed with bytes.  No sockets: the
 * caller moves bytes in with cir_rtmp_conn_feed() and writes out what the
 * connection leaves in its output buffer.
 *
 * Every parser returns CIR_EAGAIN when it needs more bytes, distinctly from
 * an error (CIR_EPARSE for malformed input, CIR_ELIMIT for a limit).
 */
#ifndef CIR_RTMP_H
#define CIR_RTMP_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"

/* ---- handshake (checklist R1) ------------------------------------------ */

#define CIR_RTMP_HS_SIZE 1536

typedef struct {
    int state; /* 0: wants C0, 1: wants C1, 2: wants C2, 3: done */
    size_t have;
    uint8_t c1[CIR_RTMP_HS_SIZE];
    uint8_t s1[CIR_RTMP_HS_SIZE];
    uint8_t out[1 + 2 * CIR_RTMP_HS_SIZE]; /* bytes to send */
    size_t out_len;
} cir_rtmp_handshake_t;

/* random: 1528 bytes for S1 (copied). */
void cir_rtmp_handshake_init(cir_rtmp_handshake_t *h, uint32_t time,
                             const uint8_t *random);
/* Consumes up to n bytes (*used says how many).  Returns 0 when the
 * handshake is complete, CIR_EAGAIN for more bytes, CIR_EPARSE for a bad
 * version byte.  Appends what to send to h->out (the caller empties it). */
int cir_rtmp_handshake_feed(cir_rtmp_handshake_t *h, const uint8_t *p, size_t n,
                            size_t *used);

/* ---- chunk stream (R2, R3) ---------------------------------------------- */

enum {
    CIR_RTMP_MSG_SET_CHUNK_SIZE = 1,
    CIR_RTMP_MSG_ABORT = 2,
    CIR_RTMP_MSG_ACK = 3,
    CIR_RTMP_MSG_USER_CONTROL = 4,
    CIR_RTMP_MSG_WIN_ACK_SIZE = 5,
    CIR_RTMP_MSG_SET_PEER_BW = 6,
    CIR_RTMP_MSG_AUDIO = 8,
    CIR_RTMP_MSG_VIDEO = 9,
    CIR_RTMP_MSG_DATA_AMF3 = 15,
    CIR_RTMP_MSG_COMMAND_AMF3 = 17,
    CIR_RTMP_MSG_DATA_AMF0 = 18,
    CIR_RTMP_MSG_COMMAND_AMF0 = 20,
    CIR_RTMP_MSG_AGGREGATE = 22
};

enum {
    CIR_RTMP_UC_STREAM_BEGIN = 0,
    CIR_RTMP_UC_STREAM_EOF = 1,
    CIR_RTMP_UC_PING_REQUEST = 6,
    CIR_RTMP_UC_PING_RESPONSE = 7
};

#define CIR_RTMP_DEFAULT_CHUNK_SIZE 128
#define CIR_RTMP_MAX_CSID           65599

typedef struct {
    uint32_t csid;
    uint32_t timestamp; /* absolute, ms */
    uint8_t type;
    uint32_t stream_id;
    const uint8_t *data; /* valid until the next call into the reader */
    uint32_t size;       /* data[size] starts CIR_RTMP_MSG_PADDING zeros */
} cir_rtmp_msg_t;

/* Zero bytes after every message payload, so that a payload can go to
 * FFmpeg without a copy (its parsers may read AV_INPUT_BUFFER_PADDING_SIZE
 * past the end). */
#define CIR_RTMP_MSG_PADDING 64

typedef struct cir_rtmp_chunk_state cir_rtmp_chunk_state_t;

typedef struct {
    uint32_t chunk_size;   /* the peer's, 128 until Set Chunk Size */
    uint32_t max_msg_size; /* limit on one message */
    uint32_t max_streams;  /* limit on distinct chunk stream ids */
    uint32_t max_buffered; /* limit on bytes buffered across chunk streams */
    uint64_t bytes_in;     /* total bytes consumed */
    /* header being read */
    uint8_t hdr[18];
    size_t hdr_len;
    cir_rtmp_chunk_state_t *cs; /* chunk stream states (array) */
    uint32_t ncs;
    uint32_t delivered; /* index of the message handed out last, +1 */
    uint64_t buffered;  /* bytes of messages being assembled */
    uint64_t allocated; /* bytes of the buffers that hold them */
    uint32_t pend_cs;   /* chunk stream whose payload is being read, +1 */
    uint32_t pend_left; /* payload bytes left in that chunk */
    uint8_t replay[8];  /* peeked bytes that were not a timestamp */
    uint8_t replay_len, replay_pos;
} cir_rtmp_reader_t;

void cir_rtmp_reader_init(cir_rtmp_reader_t *r, uint32_t max_msg_size,
                          uint32_t max_streams);
void cir_rtmp_reader_free(cir_rtmp_reader_t *r);
/* A new limit on one message (and on the bytes buffered: twice it); a
 * message already being assembled keeps the limit it started under. */
void cir_rtmp_reader_set_max_msg_size(cir_rtmp_reader_t *r,
                                      uint32_t max_msg_size);
/* Consumes bytes until one message is complete: returns 1 with *msg filled
 * (its data valid until the next call), CIR_EAGAIN when all n bytes were
 * used, or an error.  *used is set in every case. */
int cir_rtmp_reader_feed(cir_rtmp_reader_t *r, const uint8_t *p, size_t n,
                         size_t *used, cir_rtmp_msg_t *msg);
/* Drops the partial message of a chunk stream (Abort message). */
void cir_rtmp_reader_abort(cir_rtmp_reader_t *r, uint32_t csid);

/* Writes one message as chunks of chunk_size (fmt 0 then fmt 3). */
int cir_rtmp_write_msg(cir_buf_t *out, uint32_t chunk_size, uint32_t csid,
                       uint32_t timestamp, uint8_t type, uint32_t stream_id,
                       const uint8_t *data, size_t size);

/* ---- AMF0 ------------------------------------------------------------- */

typedef enum {
    CIR_AMF_NUMBER = 0,
    CIR_AMF_BOOLEAN = 1,
    CIR_AMF_STRING = 2,
    CIR_AMF_OBJECT = 3,
    CIR_AMF_NULL = 5,
    CIR_AMF_UNDEFINED = 6,
    CIR_AMF_ECMA_ARRAY = 8,
    CIR_AMF_OBJECT_END = 9,
    CIR_AMF_STRICT_ARRAY = 10,
    CIR_AMF_DATE = 11,
    CIR_AMF_LONG_STRING = 12
} cir_amf_type_t;

typedef struct cir_amf cir_amf_t;
struct cir_amf {
    cir_amf_type_t type; /* strings of both kinds decode as STRING */
    double number;       /* number; date in ms */
    int boolean;
    char *str; /* NUL-terminated copy; len excludes the NUL */
    size_t len;
    size_t count; /* object/ECMA: properties; strict array: elements */
    char **keys;  /* NULL for a strict array */
    cir_amf_t *items;
};

typedef struct {
    unsigned max_depth; /* nesting of objects/arrays */
    size_t max_nodes;   /* values in one decode */
    size_t max_string;  /* bytes in one string */
} cir_amf_limits_t;

/* Decodes one value.  CIR_EAGAIN if the bytes end inside it; CIR_EPARSE for
 * an unknown type or a stray object end; CIR_ELIMIT past a limit. */
int cir_amf0_decode(const uint8_t *p, size_t n, const cir_amf_limits_t *lim,
                    cir_amf_t *out, size_t *used);
void cir_amf_clear(cir_amf_t *v);
/* A property of an object or ECMA array, or NULL. */
const cir_amf_t *cir_amf_get(const cir_amf_t *obj, const char *key);
double cir_amf_get_number(const cir_amf_t *obj, const char *key, double def);
const char *cir_amf_get_string(const cir_amf_t *obj, const char *key);

int cir_amf0_put_number(cir_buf_t *b, double v);
int cir_amf0_put_bool(cir_buf_t *b, int v);
int cir_amf0_put_string(cir_buf_t *b, const char *s);
int cir_amf0_put_null(cir_buf_t *b);
int cir_amf0_put_object_begin(cir_buf_t *b);
int cir_amf0_put_key(cir_buf_t *b, const char *key);
int cir_amf0_put_object_end(cir_buf_t *b);

/* ---- FLV tags (R5, R6, R7) -------------------------------------------- */

typedef enum {
    CIR_FLV_CODEC_NONE = 0,
    CIR_FLV_CODEC_AVC,
    CIR_FLV_CODEC_HEVC,
    CIR_FLV_CODEC_AV1,
    CIR_FLV_CODEC_VP9,
    CIR_FLV_CODEC_AAC,
    CIR_FLV_CODEC_OTHER
} cir_flv_codec_t;

typedef enum {
    CIR_FLV_SEQUENCE_START = 0, /* decoder configuration record / ASC */
    CIR_FLV_CODED_FRAMES = 1,
    CIR_FLV_SEQUENCE_END = 2,
    CIR_FLV_METADATA = 3, /* E-RTMP metadata: ignored */
    CIR_FLV_SKIP = 4      /* a command frame, multitrack, or unsupported */
} cir_flv_packet_t;

typedef struct {
    cir_flv_codec_t codec;
    cir_flv_packet_t packet;
    int keyframe;
    int32_t cts;         /* ms, PTS = DTS + CTS */
    const uint8_t *data; /* points into the tag body */
    size_t size;
    int ex_header; /* Enhanced RTMP */
} cir_flv_tag_t;

/* The body of an RTMP video/audio message (an FLV tag without its 11-byte
 * header).  CIR_EAGAIN if the body is shorter than its own headers. */
int cir_flv_parse_video(const uint8_t *p, size_t n, cir_flv_tag_t *t);
int cir_flv_parse_audio(const uint8_t *p, size_t n, cir_flv_tag_t *t);

/* AudioSpecificConfig: sample rate and channels. */
int cir_aac_parse_asc(const uint8_t *p, size_t n, int *sample_rate,
                      int *channels);

/* ---- one server connection (R3, R4) ----------------------------------- */

typedef struct {
    uint32_t max_chunk_size;   /* a larger Set Chunk Size from the peer fails */
    uint32_t max_message_size; /* one message */
    /* one message until a publish is accepted (0: max_message_size): a
     * client that has not authenticated cannot make us buffer much */
    uint32_t max_message_size_before_publish;
    uint32_t max_chunk_streams;
    uint32_t window_ack_size; /* announced to the peer */
    uint32_t out_chunk_size;  /* ours */
    cir_amf_limits_t amf;
} cir_rtmp_limits_t;

void cir_rtmp_limits_default(cir_rtmp_limits_t *lim);

/* What the connection tells its owner.  A negative return closes. */
typedef struct {
    /* publish(key, type): the key has passed the name check; the owner
     * answers later with cir_rtmp_conn_publish_reply(). */
    int (*on_publish)(void *opaque, const char *key, const char *query);
    int (*on_metadata)(void *opaque, const cir_amf_t *meta);
    int (*on_media)(void *opaque, int video, uint32_t timestamp,
                    const uint8_t *p, size_t n);
    void (*on_unpublish)(void *opaque);
    void *opaque;
    /* connect(app): app is the application's name (the connect's "app"
     * up to a '/' or '?' that ends it), or NULL when that is not a name
     * ([A-Za-z0-9_-], 1 to 63).  0 accepts; 1 rejects it
     * (NetConnection.Connect.Rejected, closing).  NULL: only "live" is
     * accepted. */
    int (*on_connect)(void *opaque, const char *app);
} cir_rtmp_handler_t;

typedef enum {
    CIR_RTMP_PUBLISH_OK = 0,
    CIR_RTMP_PUBLISH_BAD_NAME,
    CIR_RTMP_PUBLISH_UNAUTHORIZED
} cir_rtmp_publish_result_t;

typedef struct cir_rtmp_conn cir_rtmp_conn_t;

/* random: 1528 bytes for the handshake; out_max bounds the output buffer. */
int cir_rtmp_conn_new(cir_rtmp_conn_t **c, const cir_rtmp_limits_t *lim,
                      const cir_rtmp_handler_t *h, uint32_t time,
                      const uint8_t *random, size_t out_max);
void cir_rtmp_conn_free(cir_rtmp_conn_t **c);
/* Feeds received bytes.  0: all consumed; CIR_ECANCELED: the connection
 * should be closed once the output is written; another negative: error. */
int cir_rtmp_conn_feed(cir_rtmp_conn_t *c, const uint8_t *p, size_t n);
/* Bytes to send; the caller copies them out and calls cir_buf_reset(). */
cir_buf_t *cir_rtmp_conn_output(cir_rtmp_conn_t *c);
/* Answers the pending publish.  Anything but OK marks the connection for
 * closing (cir_rtmp_conn_closing() becomes 1). */
int cir_rtmp_conn_publish_reply(cir_rtmp_conn_t *c,
                                cir_rtmp_publish_result_t r);
int cir_rtmp_conn_closing(const cir_rtmp_conn_t *c);
int cir_rtmp_conn_handshake_done(const cir_rtmp_conn_t *c);
/* Bytes of memory the connection holds for messages being assembled. */
uint64_t cir_rtmp_conn_buffered_bytes(const cir_rtmp_conn_t *c);
/* [A-Za-z0-9_-]{1,63} */
int cir_rtmp_valid_key(const char *key);

/* ---- the client side: publishing to another server (push) -------------- */

/* rtmp[s]://host[:port]/app/key: the application is everything between
 * the host and the last '/', the key (with any ?query) after it; it may be
 * empty (rtmp://host/app/: the caller fills it, cir_rtmp_url_set_key).
 * rtmps:// is RTMP over TLS (the caller's: tls is set). */
typedef struct {
    char host[256]; /* a name or an address; IPv6 without its brackets */
    int port;       /* 1935 (rtmps: 443) when not given */
    int tls;        /* rtmps:// */
    char app[256];
    char key[256];
    char tc_url[600];   /* rtmp[s]://host:port/app */
    char redacted[640]; /* the URL with the key hidden, for logs and status */
} cir_rtmp_url_t;

/* 0, or CIR_EINVAL with why in err (naming the URL). */
int cir_rtmp_url_parse(const char *url, cir_rtmp_url_t *u, char *err,
                       size_t errlen);
/* Sets the key (and the redacted form). */
void cir_rtmp_url_set_key(cir_rtmp_url_t *u, const char *key);
/* A space- or comma-separated list of at most max URLs: *n of them. */
int cir_rtmp_url_list_parse(const char *list, cir_rtmp_url_t *out, size_t max,
                            size_t *n, char *err, size_t errlen);

/* AMF0 of any decoded value (metadata passed on as it came). */
int cir_amf0_put_value(cir_buf_t *b, const cir_amf_t *v);

typedef enum {
    CIR_RTMP_CLIENT_HANDSHAKE = 0, /* C0+C1 sent, waiting for S0/S1/S2 */
    CIR_RTMP_CLIENT_CONNECT,       /* connect sent */
    CIR_RTMP_CLIENT_CREATE_STREAM, /* releaseStream/FCPublish/createStream */
    CIR_RTMP_CLIENT_PUBLISH,       /* publish sent: waiting for Publish.Start */
    CIR_RTMP_CLIENT_LIVE,          /* messages may be sent */
    CIR_RTMP_CLIENT_FAILED         /* refused or broken: see the error */
} cir_rtmp_client_state_t;

typedef struct cir_rtmp_client cir_rtmp_client_t;

/* random: 1528 bytes for C1.  C0+C1 are in the output at once. */
int cir_rtmp_client_new(cir_rtmp_client_t **c, const cir_rtmp_url_t *u,
                        uint32_t time, const uint8_t *random);
void cir_rtmp_client_free(cir_rtmp_client_t **c);
/* Feeds bytes from the server.  0: consumed; CIR_EAUTH: the server refused
 * the connect or the publish; CIR_EPARSE and others: a broken stream.  On
 * an error the state is FAILED and cir_rtmp_client_error() says why. */
int cir_rtmp_client_feed(cir_rtmp_client_t *c, const uint8_t *p, size_t n);
/* Bytes to send; the caller copies them out and calls cir_buf_reset(). */
cir_buf_t *cir_rtmp_client_output(cir_rtmp_client_t *c);
cir_rtmp_client_state_t cir_rtmp_client_state(const cir_rtmp_client_t *c);
const char *cir_rtmp_client_error(const cir_rtmp_client_t *c);
/* One audio (8), video (9) or data (18) message with its timestamp: only
 * when LIVE (CIR_EINVAL otherwise). */
int cir_rtmp_client_send(cir_rtmp_client_t *c, uint8_t type, uint32_t timestamp,
                         const uint8_t *p, size_t n);
/* The payload of a data message "@setDataFrame" "onMetaData" meta (to
 * send as type 18), appended to b. */
int cir_rtmp_metadata_encode(cir_buf_t *b, const cir_amf_t *meta);
/* FCUnpublish and deleteStream: a clean end. */
int cir_rtmp_client_unpublish(cir_rtmp_client_t *c);

#endif
