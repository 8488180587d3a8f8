// Command storage is the object store: a Supabase-Storage-compatible REST API
// and an S3 endpoint over one Postgres metadata layer.
//
//	storage serve     run the server (embedded defaults when nothing is configured)
//	storage migrate   apply the schema migrations and exit
//	storage token     mint a JWT with the configured secret, for local use
//	storage s3-credentials create|list|delete   S3 keys kept in Postgres
//	storage sweep     reclaim bytes no row refers to
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is the build's version, overridable with -ldflags "-X main.version=…".
var version = "0.1.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command; serve returns when ctx ends (SIGINT/SIGTERM).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cfg, err := Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "storage: configuration:\n%v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	switch args[0] {
	case "serve":
		err = serve(ctx, cfg, log, stdout)
	case "migrate":
		err = migrate(ctx, cfg, log, stdout)
	case "token":
		err = token(cfg, args[1:], stdout)
	case "s3-credentials":
		err = s3Credentials(ctx, cfg, log, args[1:], stdout)
	case "sweep":
		err = sweep(ctx, cfg, log, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "storage: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "storage %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

const usage = `usage: storage <command> [flags]

commands:
  serve     run the server (default)
  migrate   apply the schema migrations to DATABASE_URL (or the managed cluster) and exit
  token     mint a JWT: storage token --role R [--sub S] [--exp 1h]
  s3-credentials create|list|delete
            manage S3 access keys kept in Postgres, each with its own claims
  sweep     finish queued deletions, abort stale multipart uploads and delete
            bytes no row refers to (safe while servers run)

Configuration comes from the environment; see README.md.`

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
