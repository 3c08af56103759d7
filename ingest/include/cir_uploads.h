/*
 * The console's upload folder (docs/console.md): nginx's DAV module writes
 * each upload there whole (samples/nginx.conf, /api/uploads/), the console
 * then queues a job on it.  Nothing else ever removed them: the worker does
 * (upload_dir, upload_max_age_hours), once the job that read one has ended
 * for good (done, failed past its retries, cancelled), and any file older
 * than the age limit.
 */
#ifndef CIR_UPLOADS_H
#define CIR_UPLOADS_H

#include <stddef.h>
#include <stdint.h>

/* If input (a file:// URI or a bare path) is a regular file directly in
 * dir (both resolved: "dir/../dir/x" counts, a link into dir does not),
 * removes it: 1 removed, 0 not an upload (or gone already), < 0 error. */
int cir_uploads_remove_input(const char *dir, const char *input);

/* Removes the regular files directly in dir whose mtime is more than
 * max_age_s before now_s (wall seconds), but not a hidden one (a DAV
 * upload in progress is in nginx's temporary folder, not here) and not
 * one of keep[0..nkeep) (inputs of running jobs, as given to jobs).
 * Returns how many it removed, or < 0 when dir cannot be read. */
int cir_uploads_sweep(const char *dir, double max_age_s, int64_t now_s,
                      const char *const *keep, size_t nkeep);

#endif
