/*
 * Private helpers shared by the intake's parsers (intake_job.c) and the
 * Batch dispatcher (intake_batch.c).
 */
#ifndef CIR_INTAKE_INTERNAL_H
#define CIR_INTAKE_INTERNAL_H

#include <jansson.h>

/* The S3 event record a job is made from: the first ObjectCreated record
 * from aws:s3 in root's Records[], or NULL. */
const json_t *cir_intake_s3_record(const json_t *root);

#endif
