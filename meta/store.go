package meta

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/migrations"
)

// Options configure a Store.
type Options struct {
	DSN              string
	MaxConns         int32         // pool size; 0 means pgxpool's default
	StatementTimeout time.Duration // per statement; 0 means 30s
	ConnectTimeout   time.Duration // per connection attempt; 0 means 5s
	// Roles is the allow-list of database roles a caller may act as;
	// empty means anon, authenticated and service_role.
	Roles   []string
	Backend backend.Backend
	// Tenant is the first segment of every backend key.
	Tenant string
	// FileSizeLimit is the global upload limit in bytes (0: none).
	FileSizeLimit int64
	Logger        *slog.Logger
}

// Store is the metadata layer: a pgx pool and the backend.
type Store struct {
	opts    Options
	pool    *pgxpool.Pool
	reclaim chan struct{}
	be      backend.Backend
	roles   map[string]bool
	timeout string
	tenant  string
	log     *slog.Logger
}

// Open connects the pool (lazily: no connection is made until first use).
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("meta: parse database url: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	cfg.ConnConfig.RuntimeParams["application_name"] = "storage-gateway"
	cfg.ConnConfig.RuntimeParams["search_path"] = "storage, public"
	if o.StatementTimeout == 0 {
		o.StatementTimeout = 30 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("meta: open pool: %w", err)
	}
	roles := map[string]bool{}
	if len(o.Roles) == 0 {
		o.Roles = []string{RoleAnon, RoleAuthenticated, RoleService}
	}
	for _, r := range o.Roles {
		roles[r] = true
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tenant == "" {
		o.Tenant = "stub"
	}
	return &Store{
		opts: o, reclaim: make(chan struct{}, 1),
		pool: pool, be: o.Backend, roles: roles, log: o.Logger, tenant: o.Tenant,
		timeout: strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10) + "ms",
	}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Backend returns the byte store.
func (s *Store) Backend() backend.Backend { return s.be }

// Migrate applies the embedded migrations on one connection of the pool.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	defer c.Release()
	return migrations.Run(ctx, c.Conn())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.pool.Ping(ctx))
}

// workSlack is what a unit of work may take beyond the statement timeout:
// the round trips and, when the pool has none idle, a new connection.
const workSlack = time.Second

// bound limits one unit of work on the client side. The server's
// statement_timeout ends a slow statement, but not a server that stopped
// answering (a frozen host, a lost network path, a pool waiting for a
// connection that never comes): without this bound a request would wait
// for ever. The error is DatabaseTimeout, a 503 on both fronts.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.StatementTimeout+workSlack)
}

// scopeSQL starts every unit of work: the same settings Supabase Storage
// sets, so policies written for Supabase see what they expect.
const scopeSQL = `select set_config('role', $1, true),
 set_config('request.jwt.claim.role', $1, true),
 set_config('request.jwt', $2, true),
 set_config('request.jwt.claim.sub', $3, true),
 set_config('request.jwt.claims', $4, true),
 set_config('request.headers', $5, true),
 set_config('request.method', $6, true),
 set_config('request.path', $7, true),
 set_config('storage.operation', $8, true),
 set_config('storage.allow_delete_query', 'true', true),
 set_config('statement_timeout', $9, true)`

const roleSQL = `select set_config('role', $1, true), set_config('request.jwt.claim.role', $1, true)`

func (s *Store) scope(b *pgx.Batch, id Identity) error {
	if !s.roles[id.Role] {
		return apierr.Newf(apierr.AccessDenied, "role %q is not allowed", id.Role)
	}
	b.Queue(scopeSQL, id.Role, id.JWT, id.Sub, id.claimsJSON(), id.headersJSON(),
		id.Method, id.Path, id.Operation, s.timeout)
	return nil
}

// Tx is one identity-scoped transaction. Its opening statements (BEGIN and
// the scope) are not sent on their own: they travel in the same round trip
// as the first statement of the work.
type Tx struct {
	conn *pgxpool.Conn
	pre  pgx.Batch // statements to send ahead of the next one
	sent bool      // BEGIN has reached the server
}

func (t *Tx) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	n := len(t.pre.QueuedQueries)
	if n > 0 {
		b.QueuedQueries = append(t.pre.QueuedQueries, b.QueuedQueries...)
		t.pre.QueuedQueries = nil
		t.sent = true
	}
	br := t.conn.SendBatch(ctx, b)
	for i := 0; i < n; i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

// Exec runs one statement.
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if len(t.pre.QueuedQueries) == 0 {
		tag, err := t.conn.Exec(ctx, sql, args...)
		return tag, mapErr(err)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br, err := t.send(ctx, b)
	if err != nil {
		return pgconn.CommandTag{}, mapErr(err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, mapErr(err)
}

// QueryRow runs a statement that returns at most one row and scans it into
// dest; no row yields pgx.ErrNoRows (not mapped, so callers can tell).
func (t *Tx) QueryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	if len(t.pre.QueuedQueries) == 0 {
		err := t.conn.QueryRow(ctx, sql, args...).Scan(dest...)
		return rowErr(err)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br, err := t.send(ctx, b)
	if err != nil {
		return mapErr(err)
	}
	err = br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return rowErr(err)
}

func rowErr(err error) error {
	if err == pgx.ErrNoRows {
		return err
	}
	return mapErr(err)
}

// Query runs a statement and calls fn for every row.
func (t *Tx) Query(ctx context.Context, fn func(pgx.Rows) error, sql string, args ...any) error {
	var rows pgx.Rows
	var br pgx.BatchResults
	var err error
	if len(t.pre.QueuedQueries) == 0 {
		rows, err = t.conn.Query(ctx, sql, args...)
	} else {
		b := &pgx.Batch{}
		b.Queue(sql, args...)
		if br, err = t.send(ctx, b); err == nil {
			rows, err = br.Query()
		}
	}
	if err == nil {
		for rows.Next() {
			if err = fn(rows); err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	return mapErr(err)
}

// SetRole switches the transaction to another allowed role (e.g. to service
// role for the steps Supabase runs as superuser); it is sent with the next
// statement.
func (t *Tx) SetRole(role string) {
	t.pre.Queue(roleSQL, role)
}

// InTx runs fn in one transaction scoped to id, and commits when fn returns
// nil. BEGIN and the scope statement are pipelined with fn's first statement.
func (s *Store) InTx(ctx context.Context, id Identity, fn func(*Tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer c.Release()
	t := &Tx{conn: c}
	t.pre.Queue("begin")
	if err := s.scope(&t.pre, id); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		if t.sent {
			t.rollback(ctx)
		}
		return mapErr(err)
	}
	if !t.sent {
		return nil
	}
	if _, err := c.Exec(ctx, "commit"); err != nil {
		t.rollback(ctx)
		return mapErr(err)
	}
	return nil
}

func (t *Tx) rollback(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := t.conn.Exec(rctx, "rollback"); err != nil {
		// The connection's state is unknown: do not return it to the pool.
		t.conn.Conn().Close(rctx) //nolint:errcheck // already failing
	}
}

// Batch runs the queued statements of b in one round trip as one implicit
// transaction scoped to id (all or nothing), and hands the results to fn in
// queue order. It is the cheapest unit of work: one round trip, no BEGIN or
// COMMIT of its own.
func (s *Store) Batch(ctx context.Context, id Identity, b *pgx.Batch, fn func(pgx.BatchResults) error) error {
	var full pgx.Batch
	if err := s.scope(&full, id); err != nil {
		return err
	}
	full.QueuedQueries = append(full.QueuedQueries, b.QueuedQueries...)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	br := s.pool.SendBatch(ctx, &full)
	_, err := br.Exec()
	if err == nil && fn != nil {
		err = fn(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == pgx.ErrNoRows {
		return err
	}
	return mapErr(err)
}

// eachRow reads the next result of br as rows and calls fn for each.
func eachRow(br pgx.BatchResults, fn func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
