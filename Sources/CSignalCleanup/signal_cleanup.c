#include "signal_cleanup.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

// Slot states. Only EMPTY -> WRITING -> LIVE -> WRITING -> EMPTY happens
// outside the handler; the handler moves LIVE -> HANDLER and never back,
// so a slot it took cannot change under it, and it never reads a slot
// another thread is writing.
enum { EMPTY = 0, WRITING = 1, LIVE = 2, HANDLER = 3 };

static _Atomic int cleanup_state[GS_CLEANUP_SLOTS];
static int cleanup_is_directory[GS_CLEANUP_SLOTS];
static char cleanup_path[GS_CLEANUP_SLOTS][GS_PATH_CAPACITY];

static _Atomic int mapping_state[GS_MAPPING_SLOTS];
static uintptr_t mapping_base[GS_MAPPING_SLOTS];
static size_t mapping_size[GS_MAPPING_SLOTS];
static char mapping_path[GS_MAPPING_SLOTS][GS_PATH_CAPACITY];

static char named_suffix_text[GS_PATH_CAPACITY];
static char unnamed_text[GS_PATH_CAPACITY];

static int claim(_Atomic int *state, int from, int to) {
    int expected = from;
    return atomic_compare_exchange_strong(state, &expected, to);
}

static int claim_empty(_Atomic int *states, int count) {
    for (int slot = 0; slot < count; slot++) {
        if (claim(&states[slot], EMPTY, WRITING)) return slot;
    }
    return -1;
}

int gs_cleanup_register(const char *path, int is_directory) {
    size_t length = strlen(path);
    if (length >= GS_PATH_CAPACITY) return -1;
    int slot = claim_empty(cleanup_state, GS_CLEANUP_SLOTS);
    if (slot < 0) return -1;
    memcpy(cleanup_path[slot], path, length + 1);
    cleanup_is_directory[slot] = is_directory;
    atomic_store(&cleanup_state[slot], LIVE);
    return slot;
}

void gs_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= GS_CLEANUP_SLOTS) return;
    if (!claim(&cleanup_state[slot], LIVE, WRITING)) return;
    cleanup_path[slot][0] = 0;
    atomic_store(&cleanup_state[slot], EMPTY);
}

int gs_cleanup_entry(int slot, char *buffer, size_t capacity, int *is_directory) {
    if (slot < 0 || slot >= GS_CLEANUP_SLOTS || capacity == 0) return 0;
    if (!claim(&cleanup_state[slot], LIVE, WRITING)) return 0;
    size_t length = strlen(cleanup_path[slot]);
    int copied = length < capacity;
    if (copied) {
        memcpy(buffer, cleanup_path[slot], length + 1);
        *is_directory = cleanup_is_directory[slot];
    }
    atomic_store(&cleanup_state[slot], LIVE);
    return copied;
}

int gs_mapping_register(const void *base, size_t size, const char *path) {
    size_t length = strlen(path);
    int slot = claim_empty(mapping_state, GS_MAPPING_SLOTS);
    if (slot < 0) return -1;
    if (length >= GS_PATH_CAPACITY) length = GS_PATH_CAPACITY - 1;
    memcpy(mapping_path[slot], path, length);
    mapping_path[slot][length] = 0;
    mapping_base[slot] = (uintptr_t)base;
    mapping_size[slot] = size;
    atomic_store(&mapping_state[slot], LIVE);
    return slot;
}

void gs_mapping_unregister(int slot) {
    if (slot < 0 || slot >= GS_MAPPING_SLOTS) return;
    if (!claim(&mapping_state[slot], LIVE, WRITING)) return;
    mapping_base[slot] = 0;
    mapping_size[slot] = 0;
    atomic_store(&mapping_state[slot], EMPTY);
}

static void write_all(const char *text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, length);
        if (written <= 0) return;
        text += written;
        length -= (size_t)written;
    }
}

// Set by the first thread to take a bus error. Workers reading the same
// truncated mapping fault together; only the first names the file and
// cleans up, the others wait for its _exit instead of printing a second,
// unnamed message (and racing it to remove the same partial outputs).
static _Atomic int handling_bus_error;

static void on_bus_error(int signal_number, siginfo_t *info, void *context) {
    (void)signal_number;
    (void)context;
    if (atomic_exchange(&handling_bus_error, 1)) {
        for (;;) pause();
    }
    uintptr_t address = info ? (uintptr_t)info->si_addr : 0;
    int named = 0;
    for (int slot = 0; slot < GS_MAPPING_SLOTS && !named; slot++) {
        if (!claim(&mapping_state[slot], LIVE, HANDLER)) continue;
        if (address >= mapping_base[slot] && address - mapping_base[slot] < mapping_size[slot]) {
            write_all("error: ");
            write_all(mapping_path[slot]);
            write_all(named_suffix_text);
            named = 1;
        }
    }
    if (!named) write_all(unnamed_text);

    // Files first, so the directories holding them become empty.
    for (int slot = 0; slot < GS_CLEANUP_SLOTS; slot++) {
        if (!claim(&cleanup_state[slot], LIVE, HANDLER)) continue;
        if (!cleanup_is_directory[slot]) unlink(cleanup_path[slot]);
    }
    // Directories, a few passes so nested ones go innermost first.
    for (int pass = 0; pass < 4; pass++) {
        for (int slot = 0; slot < GS_CLEANUP_SLOTS; slot++) {
            if (atomic_load(&cleanup_state[slot]) == HANDLER && cleanup_is_directory[slot]) {
                rmdir(cleanup_path[slot]);
            }
        }
    }
    _exit(2);
}

static void copy_text(char *destination, const char *source) {
    size_t length = strlen(source);
    if (length >= GS_PATH_CAPACITY) length = GS_PATH_CAPACITY - 1;
    memcpy(destination, source, length);
    destination[length] = 0;
}

int gs_install_bus_error_handler(const char *named_suffix, const char *unnamed_message) {
    copy_text(named_suffix_text, named_suffix);
    copy_text(unnamed_text, unnamed_message);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGBUS, &action, NULL);
}
