/* The flag that asks a transfer to stop at its next safe point: set to 1
 * by the spooler's signal handler (SIGTERM, SIGINT), read by its worker and
 * uploader threads while they wait or move bytes. An atomic, not a
 * volatile sig_atomic_t: several threads read it while a handler writes
 * it, and a lock-free atomic may be written from a handler. */
#ifndef ZOOM2S3_STOPFLAG_H
#define ZOOM2S3_STOPFLAG_H

#include <stdatomic.h>

typedef atomic_int stop_flag_t;

#endif
