// Package migrations holds the storage schema as ordered, embedded SQL files
// and the runner that applies them.
//
// Each file is idempotent, so the runner is safe on a database that already
// holds Supabase Storage's schema: it adds what is missing and never drops or
// rewrites data. Applied files are recorded in storage.migrations, the table
// Supabase Storage itself uses, under names prefixed "gateway-" and ids from
// IDBase up, so they can never collide with Supabase's own entries.
//
// The package imports the standard library and pgx only, nothing of ours.
package migrations

import (
	"context"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/*.sql
var files embed.FS

// IDBase is added to a file's number to form its storage.migrations id.
const IDBase = 10000

// lockKey is the advisory lock that serialises concurrent migrators (several
// replicas starting at once).
const lockKey = 0x5354_4f52_4147_45 // "STORAGE"

// Migration is one embedded SQL file.
type Migration struct {
	ID   int    // IDBase + the file's number
	Name string // "gateway-0001-storage-schema"
	Hash string // hex SHA-1 of the SQL, as Supabase records it
	SQL  string
}

// List returns the embedded migrations in the order they apply.
func List() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: list: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, rest, ok := strings.Cut(base, "_")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migrations: bad file name %q", e.Name())
		}
		b, err := files.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", e.Name(), err)
		}
		sum := sha1.Sum(b)
		out = append(out, Migration{
			ID:   IDBase + n,
			Name: "gateway-" + num + "-" + strings.ReplaceAll(rest, "_", "-"),
			Hash: hex.EncodeToString(sum[:]),
			SQL:  string(b),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

const createMigrationsTable = `
create schema if not exists storage;
create table if not exists storage.migrations (
    id integer primary key,
    name varchar(100) unique not null,
    hash varchar(40) not null,
    executed_at timestamp default current_timestamp
);`

// Run applies every migration not yet recorded in storage.migrations, each in
// its own transaction, and returns the names it applied. Concurrent callers
// on one database wait for each other on an advisory lock.
func Run(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	all, err := List()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return nil, fmt.Errorf("migrations: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", int64(lockKey)) //nolint:errcheck // released with the session anyway

	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrations: create table: %w", err)
	}
	done := map[string]bool{}
	rows, err := conn.Query(ctx, "select name from storage.migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: read applied: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("migrations: read applied: %w", err)
	}
	for _, n := range names {
		done[n] = true
	}
	var applied []string
	for _, m := range all {
		if done[m.Name] {
			continue
		}
		if err := apply(ctx, conn, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

func apply(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %s: begin: %w", m.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	// No arguments: pgx uses the simple protocol, which runs a multi-statement file.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrations: %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, "insert into storage.migrations (id, name, hash) values ($1, $2, $3)",
		m.ID, m.Name, m.Hash); err != nil {
		return fmt.Errorf("migrations: %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrations: %s: commit: %w", m.Name, err)
	}
	return nil
}
