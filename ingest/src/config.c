/*
 * cirrus-ingest options: one table with defaults, limits and help; set from
 * a JSON file, CIRRUS_INGEST_<NAME> variables and the command line, in that
 * order (common/include/cir_options.h does the work).
 */
#include <stddef.h>
#include <stdio.h>

#include "cir_ingest.h"
#include "cir_options.h"

#define S(f) CIR_OPT_S(cir_ingest_config_t, f)
#define I(f) CIR_OPT_I(cir_ingest_config_t, f)
#define D(f) CIR_OPT_D(cir_ingest_config_t, f)
#define J(f) CIR_OPT_J(cir_ingest_config_t, f)
#define BIG  1e15
#define GIB4 4294967296.0 /* queue bytes at most */

static const cir_option_t opts[] = {
    {"listen", S(listen), "127.0.0.1", 0, 0, "RTMP listen address"},
    {"port", I(port), "1935", 0, 65535, "RTMP port (0: any free port)"},
    {"rtmps_port", I(rtmps_port), "0", 0, 65535,
     "RTMPS (RTMP over TLS 1.2 or later) port; 0: off"},
    {"rtmps_listen", S(rtmps_listen), "", 0, 0,
     "RTMPS listen address (empty: listen's)"},
    {"tls_certificate", S(tls_certificate), "", 0, 0,
     "RTMPS certificate chain, PEM (reloaded on SIGHUP)"},
    {"tls_certificate_key", S(tls_certificate_key), "", 0, 0,
     "RTMPS private key, PEM (reloaded on SIGHUP)"},
    {"srt_port", I(srt_port), "0", 0, 65535,
     "SRT listener port (MPEG-TS published by streamid \"#!::r=live/KEY,"
     "m=publish\" or \"live/KEY\"); 0: off"},
    {"srt_listen", S(srt_listen), "", 0, 0,
     "SRT listen address (empty: listen's)"},
    {"srt_passphrase", S(srt_passphrase), "", 0, 0,
     "SRT passphrase, 10 to 79 characters (AES; publishers without it, or "
     "with another, are refused); empty: no encryption"},
    {"srt_latency_ms", I(srt_latency_ms), "120", 20, 10000,
     "SRT latency (SRTO_LATENCY, ms): the larger of it and the publisher's "
     "is used"},
    {"srt_max_connections", I(srt_max_connections), "16", 1, 1000,
     "SRT connections at once (more are rejected in the handshake)"},
    {"status_listen", S(status_listen), "127.0.0.1", 0, 0,
     "status HTTP address"},
    {"status_port", I(status_port), "0", 0, 65535,
     "status HTTP port (/streams, /metrics, /healthz, /readyz); 0: off"},
    {"live_root", S(live_root), "/var/lib/cirrus/live", 0, 0,
     "live store directory"},
    {"key_file", S(key_file), "", 0, 0,
     "allowed stream keys, one a line (reloaded on SIGHUP or change)"},
    {"on_publish_url", S(on_publish_url), "", 0, 0,
     "HTTP callback asked on publish; 2xx allows"},
    {"auth_timeout", D(auth_timeout), "5", 0.1, 60, "callback timeout, s"},
    {"webhook_url", S(webhook_url), "", 0, 0,
     "lifecycle webhooks (JSON POST: publish, publish_done, update, "
     "record_done); empty: off"},
    {"webhook_secret", S(webhook_secret), "", 0, 0,
     "key of the webhooks' X-Cirrus-Signature (HMAC-SHA256 of "
     "\"<X-Cirrus-Timestamp>.<body>\"); empty: unsigned"},
    {"webhook_update_seconds", D(webhook_update_seconds), "0", 0, 3600,
     "an \"update\" webhook per stream this often, with its health; 0: none"},
    {"webhook_attempts", I(webhook_attempts), "5", 1, 20,
     "attempts per webhook (backoff 1 s, 2 s, 4 s ... at most 60 s)"},
    {"webhook_timeout", D(webhook_timeout), "5", 0.1, 60,
     "seconds per webhook attempt"},
    {"webhook_max_pending", I(webhook_max_pending), "1000", 1, 1000000,
     "webhooks queued or waiting for a retry at most (past it the new one "
     "is dropped, counted)"},
    {"takeover", I(takeover), "0", 0, 1,
     "1: a second publisher of a key replaces the first; 0: refused"},
    {"max_connections", I(max_connections), "256", 1, 100000,
     "simultaneous connections (at the limit a new one closes the oldest "
     "connection that has not published)"},
    {"max_connections_per_address", I(max_connections_per_address), "32", 1,
     100000,
     "simultaneous connections from one IP address (at the limit a new one "
     "closes that address's oldest connection that has not published)"},
    {"handshake_timeout", D(handshake_timeout), "5", 0.1, 600,
     "seconds to complete the handshake"},
    {"publish_timeout", D(publish_timeout), "10", 0.1, 600,
     "seconds from accept to publishing"},
    {"idle_timeout", D(idle_timeout), "30", 0.1, 3600,
     "seconds without a byte before closing"},
    {"max_chunk_size", I(max_chunk_size), "65536", 128, 16777215,
     "largest Set Chunk Size accepted"},
    {"max_message_size", I(max_message_size), "8388608", 4096, 16777215,
     "largest RTMP message"},
    {"max_message_size_before_publish", I(max_message_size_before_publish),
     "65536", 4096, 16777215,
     "largest RTMP message before a publish is accepted (a client that has "
     "not authenticated cannot make the ingest buffer more)"},
    {"max_buffered_bytes", I(max_buffered_bytes), "268435456", 65536, GIB4,
     "bytes held for RTMP messages being assembled, all connections "
     "together (past it connections that have not published are closed, "
     "the largest first, then the one that asked for more)"},
    {"max_streams", I(max_streams), "64", 1, 100000,
     "streams live at once (including those in their grace period)"},
    {"max_bytes_per_second", I(max_bytes_per_second), "12500000", 0, BIG,
     "per-connection read rate (0: unlimited)"},
    {"window_ack_size", I(window_ack_size), "2500000", 4096, 0x7fffffff,
     "Window Acknowledgement Size announced to clients"},
    {"loop_pace_ms", D(loop_pace_ms), "40", 0, 50,
     "while streaming, start a loop turn at most every N ms (batches "
     "reads; adds up to N ms to a part's availability; 0: off)"},
    {"package_on_loop", I(package_on_loop), "1", 0, 1,
     "1: a passthrough-only stream (no preset, no recording) is packaged "
     "on the event loop, as nginx-rtmp does; 0: every stream gets a "
     "pipeline thread (a slow disk then stalls only its own stream)"},
    {"pipe_queue_packets", I(pipe_queue_packets), "1008", 1, 1000000,
     "packets queued at most in front of a stream's pipeline thread (a "
     "slow pipeline: keyframes evict the newest other video packet, or "
     "are dropped)"},
    {"pipe_queue_soft_packets", I(pipe_queue_soft_packets), "256", 1, 1000000,
     "past this many queued packets, video that is not a keyframe is "
     "dropped (and the video waits for its next keyframe); at most "
     "pipe_queue_packets"},
    {"pipe_queue_bytes", I(pipe_queue_bytes), "67108864", 4096, GIB4,
     "bytes of packets queued at most in front of a stream's pipeline "
     "thread"},
    {"pipe_queue_soft_bytes", I(pipe_queue_soft_bytes), "25165824", 4096, GIB4,
     "past this many queued bytes, video that is not a keyframe is "
     "dropped; at most pipe_queue_bytes"},
    {"pipe_queue_control_reserve", I(pipe_queue_control_reserve), "16", 1, 1000,
     "queue slots past pipe_queue_packets that only a new sequence header "
     "or the publisher's leaving may take"},
    {"rung_queue_frames", I(rung_queue_frames), "8", 2, 64,
     "decoded frames queued per live ABR rung (a slow encoder: the newest "
     "frame that is not a keyframe is dropped)"},
    {"grace_seconds", D(grace_seconds), "10", 0, 3600,
     "a lost publisher may reconnect this long before the stream ends"},
    {"timestamp_gap_seconds", D(timestamp_gap_seconds), "5", 0.5, 3600,
     "a publisher's timestamps jumping further than this (forward, or "
     "back, or one track from the other) start a new timeline with a "
     "discontinuity"},
    {"timestamp_correction_seconds", D(timestamp_correction_seconds), "0.5",
     0.001, 5,
     "repeated, bunched or backward timestamps are moved forward by at "
     "most this much (frames kept); a larger repair is a discontinuity"},
    {"part_seconds", D(part_seconds), "0.333334", 0.05, 10,
     "LL-HLS part duration: parts are the whole number of video frames "
     "nearest it that tiles a segment; PART-TARGET is that plus half a "
     "frame, in whole ms up (parts 85-100 % of it)"},
    {"segment_seconds", D(segment_seconds), "2", 0.1, 60,
     "segment target: segments end at the keyframe nearest it; the "
     "stream's target duration fits its first segment"},
    {"window", I(window), "15", 3, 100000,
     "segments kept in the playlist (more while the parts of older ones "
     "stay fetchable, 3 target durations)"},
    {"preset", S(preset), "", 0, 0,
     "live ABR preset name (presets_dir/NAME.json); empty: the source is "
     "passed through only"},
    {"presets_dir", S(presets_dir), "", 0, 0,
     "preset folder (empty: $CIRRUS_PRESETS_DIR)"},
    {"record_uri", S(record_uri), "", 0, 0,
     "file:// URI or path: each stream is also recorded as a VOD asset "
     "there (KEY-STARTTIME/, published as a VOD job's: v/<version>/, the "
     "top-level manifests last); empty: off"},
    {"public_base_url", S(public_base_url), "", 0, 0,
     "viewer base URL for the status endpoint (e.g. https://cdn.example/live)"},
    {"push", S(push), "", 0, 0,
     "restream every stream as it came (no transcode) to these "
     "rtmp[s]://host[:port]/app/key URLs (rtmps://: TLS, port 443 unless "
     "given), space or comma separated, at most 8; "
     "a URL ending in '/' gets the stream's own key; each reconnects with "
     "backoff (1, 2, 4 ... 30 s); empty: off"},
    {"push_queue_bytes", I(push_queue_bytes), "8388608", 65536, GIB4,
     "bytes queued at most per push destination (past it video is dropped "
     "until the next keyframe, counted)"},
    {"push_tls_verify", I(push_tls_verify), "1", 0, 1,
     "1: rtmps:// push destinations must present a certificate that "
     "verifies (push_tls_ca_file, or the system's authorities) for the "
     "URL's host; 0: not checked (tests, self-signed; logged as a warning)"},
    {"push_tls_ca_file", S(push_tls_ca_file), "", 0, 0,
     "PEM file of the certificate authorities rtmps:// push destinations "
     "are verified against; empty: the system's"},
    {"log_level", S(log_level), "info", 0, 0,
     "error, warn, info, debug, trace"},
    {"log_json", I(log_json), "0", 0, 1, "1: one JSON object per log line"},
    {"encryption", J(encryption), "", 0, 0,
     "Common Encryption of the live renditions, as a VOD job's "
     "\"encryption\" (docs/encryption.md, Live): {\"scheme\": \"cenc\" or "
     "\"cbcs\", \"key_file\" or \"speke\", \"drm\", with speke "
     "\"rotate_segments\": N for a new key every N segments}; the key read "
     "(or asked for) at start; empty: clear"},
    {"applications", J(applications), "", 0, 0,
     "RTMP applications (rtmp://host/APP/KEY, SRT r=APP/KEY), an object of "
     "name: {options}; an application may set live_root, key_file, "
     "on_publish_url, preset, record_uri, public_base_url, push, window, "
     "segment_seconds, part_seconds and encryption, the rest are the global "
     "options "
     "(docs/configuration.md, Applications); empty: the one application "
     "\"live\" with the global options"},
};

const cir_options_t cir_ingest_options = {opts, sizeof(opts) / sizeof(opts[0]),
                                          "CIRRUS_INGEST_"};
