// Cleanup that must run inside a signal handler: a fixed, preallocated,
// lock-free table of paths to remove, and a SIGBUS handler that uses only
// async-signal-safe calls (write, unlink, rmdir, _exit). Swift code cannot
// promise that (it may allocate, lock or initialize globals lazily), so this
// small part is C. Only GateSurgeon's IO layer calls it.
#ifndef GATESURGEON_SIGNAL_CLEANUP_H
#define GATESURGEON_SIGNAL_CLEANUP_H

#include <stddef.h>

#define GS_CLEANUP_SLOTS 1024
#define GS_MAPPING_SLOTS 1024
#define GS_PATH_CAPACITY 4096

/// Records `path` for removal if the process dies of SIGBUS (or when
/// `gs_cleanup_entry` readers remove it): a file is unlinked, a directory
/// removed with rmdir once its registered files are gone. Call before the
/// path is created. Returns the slot, or -1 when the table is full or the
/// path is longer than GS_PATH_CAPACITY - 1 bytes.
int gs_cleanup_register(const char *path, int is_directory);

/// Forgets a slot returned by gs_cleanup_register.
void gs_cleanup_unregister(int slot);

/// Copies the path of a live slot into `buffer` and returns 1 (0 when the
/// slot is empty or busy); `is_directory` receives its kind.
int gs_cleanup_entry(int slot, char *buffer, size_t capacity, int *is_directory);

/// Records a read-only mapping of `path`, so a SIGBUS inside it names the file.
/// Returns the slot, or -1 when the table is full.
int gs_mapping_register(const void *base, size_t size, const char *path);

/// Forgets a slot returned by gs_mapping_register.
void gs_mapping_unregister(int slot);

/// Installs the SIGBUS handler. On a bus error it writes one line to
/// standard error: "error: PATH" + `named_suffix` when the faulting address
/// lies in a registered mapping, else `unnamed_message`; then unlinks every
/// registered file, removes every registered directory, and calls _exit(2).
/// Both texts are copied (at most GS_PATH_CAPACITY - 1 bytes each).
/// Returns 0, or -1 when sigaction fails.
int gs_install_bus_error_handler(const char *named_suffix, const char *unnamed_message);

#endif
