// Package pgcluster runs a private PostgreSQL cluster from the system's
// PostgreSQL binaries: initdb on first use, pg_ctl start and stop, a unix
// socket in the data directory and no TCP port.
//
// It serves two callers: `storage serve` on embedded defaults (a managed
// cluster in the data directory) and the test harness (a throwaway cluster
// per test binary). PostgreSQL refuses to run as root, so when the process is
// root the cluster runs as the unprivileged "postgres" system account.
//
// It imports only the standard library and nothing of ours.
package pgcluster
