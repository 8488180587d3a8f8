// Package metatest gives tests a real, migrated Postgres without any service
// started by hand: one throwaway cluster per test binary (initdb and pg_ctl
// on a unix socket in a temp dir, run as the "postgres" account when the
// tests run as root), a template database migrated once, and a fresh
// database per test cloned from it. With DATABASE_URL set it uses that
// server instead of starting one.
//
// It is imported by tests only.
package metatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/pgcluster"
	"github.com/supagate/storage/migrations"
)

var (
	mu       sync.Mutex
	cluster  *pgcluster.Cluster
	adminDSN string // a connection string to a maintenance database
	template string // the migrated template database
	dsnFor   func(db string) string
	dbCount  int
)

// Main starts Postgres, migrates the template, runs the tests and stops
// Postgres. Use it from TestMain: os.Exit(metatest.Main(m)).
func Main(m *testing.M) int {
	ctx := context.Background()
	stop, err := setup(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metatest:", err)
		return 1
	}
	code := m.Run()
	stop()
	return code
}

func setup(ctx context.Context) (stop func(), err error) {
	suffix := randHex(4)
	stop = func() {}
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		if _, err := pgx.ParseConfig(dsn); err != nil {
			return nil, err
		}
		adminDSN = dsn
		dsnFor = func(db string) string { return replaceDB(dsn, db) }
	} else {
		dir, err := os.MkdirTemp("", "storage-pg-")
		if err != nil {
			return nil, err
		}
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Settings: map[string]string{
			"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
			"max_connections": "300", "shared_buffers": "64MB",
		}})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		adminDSN = cluster.DSN("postgres")
		dsnFor = cluster.DSN
		stop = func() {
			cluster.Stop(context.Background()) //nolint:errcheck // best effort at exit
			os.RemoveAll(dir)
		}
	}
	template = "storage_tmpl_" + suffix
	if err := exec(ctx, adminDSN, "create database "+template); err != nil {
		stop()
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsnFor(template))
	if err != nil {
		stop()
		return nil, err
	}
	_, err = migrations.Run(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		stop()
		return nil, err
	}
	prev := stop
	stop = func() {
		exec(context.Background(), adminDSN, "drop database if exists "+template+" with (force)") //nolint:errcheck // best effort
		prev()
	}
	return stop, nil
}

// Cluster returns the throwaway cluster, or nil when DATABASE_URL is used.
// Fault tests use it to stop and restart Postgres.
func Cluster() *pgcluster.Cluster { return cluster }

// NewDB returns the connection string of a fresh, migrated database that is
// dropped when t ends.
func NewDB(t testing.TB) string {
	t.Helper()
	if template == "" {
		t.Fatal("metatest: call metatest.Main from TestMain")
	}
	mu.Lock()
	dbCount++
	name := fmt.Sprintf("t_%d_%s", dbCount, randHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := exec(ctx, adminDSN, "create database "+name+" template "+template)
	cancel()
	mu.Unlock()
	if err != nil {
		t.Fatalf("metatest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, adminDSN, "drop database if exists "+name+" with (force)"); err != nil {
			t.Logf("metatest: %v", err)
		}
	})
	return dsnFor(name)
}

// Exec runs SQL (several statements allowed) as the database superuser on
// the database dsn; tests use it to install policies and fixtures.
func Exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec(ctx, dsn, sql); err != nil {
		t.Fatalf("metatest: exec: %v", err)
	}
}

func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// replaceDB points a connection string (URL or keyword/value form) at db.
func replaceDB(dsn, db string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		return u.String()
	}
	return dsn + " dbname=" + db // a later keyword wins
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}
