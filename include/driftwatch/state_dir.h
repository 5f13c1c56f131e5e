/* Where driftwatch keeps what must survive a restart (the notification
 * outbox, the alerts firing at shutdown) when the configuration names no
 * state_dir. */
#ifndef DRIFTWATCH_STATE_DIR_H
#define DRIFTWATCH_STATE_DIR_H

#include <stddef.h>

/* The system location, used when it is a writable directory (the container
 * image and the Kubernetes manifests provide it). */
#define DW_STATE_DIR_SYSTEM "/var/lib/driftwatch"

/* The default state directory: DW_STATE_DIR_SYSTEM when it is a writable
 * directory, else $XDG_STATE_HOME/driftwatch, else
 * $HOME/.local/state/driftwatch (a laptop run without root), else
 * DW_STATE_DIR_SYSTEM. Nothing is created. Returns a new string. */
char *dw_state_dir_default(void);

/* Creates dir and its missing parents with mode (before the umask), like
 * mkdir -p: the default state directory (0700), the directory of
 * `reference build --output` (0755). Returns 0, or a negative dw_err with
 * a sentence in errbuf. */
int dw_mkdir_p(const char *dir, unsigned mode, char *errbuf, size_t errlen);

#endif
