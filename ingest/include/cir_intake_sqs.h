/*
 * The SQS intake: a queue of S3 event notifications (or job documents),
 * long-polled through the AWS client (cir_aws.h, configured from the
 * environment).
 *
 * next() receives one message (long poll up to 20 s, the given visibility),
 * parses it with cir_intake_parse_job(); s3:TestEvent and unparseable
 * messages are deleted (logged) and skipped.  attempt is the message's
 * ApproximateReceiveCount.  heartbeat() is one ChangeMessageVisibility
 * attempt, bounded in time (MessageNotInflight / ReceiptHandleIsInvalid:
 * CIR_ENOTFOUND), ack() DeleteMessage, release() visibility 0, abandon()
 * no call at all.
 *
 * fail(): a permanent failure (bad input, bad preset) deletes the message
 * after logging the error JSON: retrying cannot help, and the pool has
 * already written the error into the job's status.  A transient failure
 * hides the message for a backoff (2^attempt s, at most the visibility
 * timeout) and leaves it in the queue; after the queue's maxReceiveCount
 * deliveries its redrive policy parks it in the dead-letter queue (set
 * maxReceiveCount = max_attempts).  max_attempts here only makes the last
 * attempt's log line say that the message goes to the DLQ next.
 */
#ifndef CIR_INTAKE_SQS_H
#define CIR_INTAKE_SQS_H

#include <stddef.h>

#include "cir_intake.h"

cir_intake_t *cir_intake_sqs_open(const char *queue_url, const char *out_root,
                                  const char *presets_dir,
                                  const char *default_preset, int visibility_s,
                                  int max_attempts, char *err, size_t errsize);

/* The connect and total timeouts of every call the intake makes (ms);
 * call before the intake is used from more than one thread. */
int cir_intake_sqs_set_timeouts(cir_intake_t *src, int connect_ms,
                                int request_ms);

#endif
