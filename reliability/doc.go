// Package reliability holds the harnesses that run the real filetrail
// binary and inject faults and hostile clients: SIGKILL during ingestion
// and serving, the store's server going away, a full disk, key guessing,
// oversized and trickled requests, and an HTTP fuzzer. It has tests only;
// docs/RELIABILITY.md lists them with their figures and commands.
//
// Budgets are small by default so that the package runs in CI; the
// environment variables FILETRAIL_CRASH_ITERATIONS and
// FILETRAIL_FUZZ_REQUESTS make the runs longer.
package reliability
