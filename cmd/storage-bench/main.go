// Command storage-bench measures the storage server: it starts its own
// server on embedded defaults (or targets a running one, or another S3 or
// Supabase Storage product) and runs named workloads — small-object PUT,
// GET, HEAD and DELETE over REST and S3, large-object transfers, listing
// at 10,000 and 1,000,000 keys, a mixed load, RLS variants — and reports
// for each ops/s, p50/p99 latency, MB/s, CPU per operation of the server
// and of Postgres (from /proc), Postgres transactions, statements and round
// trips per operation, and the server's peak RSS, as a table and as JSON.
//
//	go run ./cmd/storage-bench -list
//	go run ./cmd/storage-bench [flags] [workload or glob ...]
//
// It uses loopback only and is bounded in time: every workload runs for
// -duration after a short warm-up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	clients, mixedClients int
	duration, warmup      time.Duration
	settle                time.Duration
	size, large           int64
	keys10k, keys1m       int
	page                  int
	jsonPath              string
	list                  bool
	quiet                 bool
	statements            bool
	perfDir               string

	// A running server or another product.
	target, s3Endpoint, region string
	serviceKey, anonKey        string
	s3Key, s3Secret, tenant    string
	userToken, userSub         string
	userS3Key, userS3Secret    string
	serverPID, pgPID           int
	pgDSN                      string
	s3Unsigned                 bool

	// The managed server.
	repo, serverBin, dataDir string
	keep, noProxy            bool
	logLevel                 string

	workloads []string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("storage-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: storage-bench [flags] [workload or glob ...]   (-list names them)")
		fs.PrintDefaults()
	}
	fs.IntVar(&c.clients, "clients", 16, "concurrent clients for small-object workloads")
	fs.IntVar(&c.mixedClients, "mixed-clients", 64, "concurrent clients for the mixed workload")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per workload")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each small-object workload")
	fs.DurationVar(&c.settle, "pg-settle", 0, "wait before reading pg_stat_database (PG 15 flushes idle backends after 10s; 0: not read)")
	size := fs.String("size", "4KiB", "small object size")
	large := fs.String("large", "256MiB", "large object size")
	fs.IntVar(&c.keys10k, "keys", 10000, "keys in the small listing bucket (the *-10k workloads)")
	fs.IntVar(&c.keys1m, "keys-1m", 1000000, "keys in the big listing bucket (the *-1m workloads)")
	fs.IntVar(&c.page, "page", 100, "listing page size")
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.BoolVar(&c.list, "list", false, "print the workloads and exit")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines")
	fs.StringVar(&c.perfDir, "perf", "", "record each measured window with Linux perf into this directory")
	fs.BoolVar(&c.statements, "statements", false, "print each workload's most called statements (pg_stat_statements)")

	fs.StringVar(&c.target, "target", "", "REST base URL of a running server (empty: start one)")
	fs.StringVar(&c.s3Endpoint, "s3-endpoint", "", "S3 endpoint (default: -target + /s3; 'none' for REST only)")
	fs.StringVar(&c.region, "s3-region", "us-east-1", "S3 region")
	fs.StringVar(&c.serviceKey, "service-key", "", "service-role JWT for REST")
	fs.StringVar(&c.anonKey, "anon-key", "", "anon key: sent as apikey, and the S3 session-token secret")
	fs.StringVar(&c.s3Key, "s3-key", "", "S3 access key acting as service role")
	fs.StringVar(&c.s3Secret, "s3-secret", "", "its secret")
	fs.StringVar(&c.tenant, "tenant", "stub", "TENANT_ID: the access key of S3 session-token requests")
	fs.StringVar(&c.userToken, "user-token", "", "JWT of an authenticated user (RLS workloads)")
	fs.StringVar(&c.userSub, "user-sub", "", "that user's sub (a uuid; folder of the RLS workloads)")
	fs.StringVar(&c.userS3Key, "user-s3-key", "", "S3 key kept in Postgres acting as that user")
	fs.StringVar(&c.userS3Secret, "user-s3-secret", "", "its secret")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the target server process (CPU, RSS)")
	fs.IntVar(&c.pgPID, "pg-pid", 0, "pid of the target's postmaster (Postgres CPU)")
	fs.StringVar(&c.pgDSN, "pg-dsn", "", "superuser DSN of the target's database (seeding, policies, statistics)")
	fs.BoolVar(&c.s3Unsigned, "s3-unsigned", false, "send S3 bodies as UNSIGNED-PAYLOAD instead of their SHA-256")

	fs.StringVar(&c.repo, "repo", "", "repository to build cmd/storage from (default: found from the working directory)")
	fs.StringVar(&c.serverBin, "server-bin", "", "use this storage binary instead of building one")
	fs.StringVar(&c.dataDir, "data-dir", "", "STORAGE_DATA_DIR of the managed server (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary data directory")
	fs.BoolVar(&c.noProxy, "no-pg-proxy", false, "connect the managed server to Postgres directly (no transaction, statement and round-trip counts)")
	fs.StringVar(&c.logLevel, "server-log-level", "", "LOG_LEVEL of the managed server (default: the server's default)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.size, err = parseSize(*size); err != nil {
		return c, fmt.Errorf("-size: %w", err)
	}
	if c.large, err = parseSize(*large); err != nil {
		return c, fmt.Errorf("-large: %w", err)
	}
	if c.clients < 1 || c.mixedClients < 1 || c.page < 1 || c.duration <= 0 {
		return c, errors.New("-clients, -mixed-clients, -page and -duration must be positive")
	}
	if c.target != "" && c.s3Endpoint == "" {
		c.s3Endpoint = strings.TrimRight(c.target, "/") + "/s3"
	}
	c.workloads = fs.Args()
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "storage-bench:", err)
		return 2
	}
	all := workloads()
	if cfg.list {
		for _, w := range all {
			fmt.Fprintf(stdout, "%-20s %s\n", w.name, w.desc)
		}
		return 0
	}
	chosen, err := choose(all, cfg.workloads)
	if err != nil {
		fmt.Fprintln(stderr, "storage-bench:", err)
		return 2
	}
	progress := stderr
	if cfg.quiet {
		progress = io.Discard
	}
	rep, err := runBench(ctx, cfg, chosen, args, progress)
	if rep != nil {
		rep.writeTable(stdout)
		if cfg.jsonPath != "" {
			if werr := rep.writeJSON(cfg.jsonPath); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "storage-bench:", err)
		return 1
	}
	return 0
}

// choose keeps the workloads named by args (names or globs such as
// "rest-*"), in the registry's order; no args means all of them.
func choose(all []*workload, args []string) ([]*workload, error) {
	if len(args) == 0 {
		return all, nil
	}
	seen := map[string]bool{}
	for _, a := range args {
		hit := false
		for _, w := range all {
			if ok, err := path.Match(a, w.name); err != nil {
				return nil, fmt.Errorf("bad pattern %q: %w", a, err)
			} else if ok {
				seen[w.name], hit = true, true
			}
		}
		if !hit {
			return nil, fmt.Errorf("no workload matches %q (see -list)", a)
		}
	}
	var out []*workload
	for _, w := range all {
		if seen[w.name] {
			out = append(out, w)
		}
	}
	return out, nil
}
