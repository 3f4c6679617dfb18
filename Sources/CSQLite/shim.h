#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a cast Swift cannot import.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_config is variadic, which Swift cannot call. Memory statistics cost a global mutex
// on every allocation SQLite makes; nothing here reads them.
static inline int csqlite_disable_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

// Debian and others build SQLite with URI filenames on: a path such as
// "file:x.db?mode=memory" would open a database that vanishes on close. Paths here are files.
static inline int csqlite_disable_uri_filenames(void) { return sqlite3_config(SQLITE_CONFIG_URI, 0); }
