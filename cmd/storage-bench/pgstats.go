package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// monitor is the bench's own superuser connection to the server's
// database: statistics, RLS policies and seeding. It bypasses the proxy.
type monitor struct {
	conn *pgx.Conn
	pgss bool // pg_stat_statements is queryable
}

func openMonitor(ctx context.Context, dsn string) (*monitor, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: connect to postgres: %w", err)
	}
	m := &monitor{conn: conn}
	var preload string
	if err := conn.QueryRow(ctx, "select current_setting('shared_preload_libraries')").Scan(&preload); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	if strings.Contains(preload, "pg_stat_statements") {
		_, err := conn.Exec(ctx, "create extension if not exists pg_stat_statements")
		m.pgss = err == nil
	}
	return m, nil
}

func (m *monitor) close() { m.conn.Close(context.Background()) }

// xacts reads pg_stat_database's xact_commit + xact_rollback, which
// backends flush lazily (PG 15: at most once a second while busy, ten
// seconds after going idle).
func (m *monitor) xacts(ctx context.Context) (int64, error) {
	var n int64
	err := m.conn.QueryRow(ctx, `select xact_commit + xact_rollback from pg_stat_database
		where datname = current_database()`).Scan(&n)
	return n, err
}

// folderPolicies lets an authenticated user read and write only below a
// folder named after her uid, in one bucket: the usual Supabase policy.
const folderPolicies = `
drop policy if exists "bench own folder read" on storage.objects;
drop policy if exists "bench own folder write" on storage.objects;
drop policy if exists "bench own folder update" on storage.objects;
drop policy if exists "bench own folder delete" on storage.objects;
drop policy if exists "bench see bucket" on storage.buckets;
create policy "bench own folder read" on storage.objects for select to authenticated
    using (bucket_id = '%[1]s' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "bench own folder write" on storage.objects for insert to authenticated
    with check (bucket_id = '%[1]s' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "bench own folder update" on storage.objects for update to authenticated
    using (bucket_id = '%[1]s' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "bench own folder delete" on storage.objects for delete to authenticated
    using (bucket_id = '%[1]s' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "bench see bucket" on storage.buckets for select to authenticated using (id = '%[1]s');
`

// installPolicies installs folderPolicies for bucket (a fixed name of the
// bench, never user input).
func (m *monitor) installPolicies(ctx context.Context, bucket string) error {
	_, err := m.conn.Exec(ctx, fmt.Sprintf(folderPolicies, bucket))
	return err
}

// countKeys counts the rows below prefix in bucket.
func (m *monitor) countKeys(ctx context.Context, bucket, prefix string) (int, error) {
	var n int
	err := m.conn.QueryRow(ctx, `select count(*) from storage.objects where bucket_id = $1 and name like $2 || '%'`,
		bucket, prefix).Scan(&n)
	return n, err
}

// seedSQL copies one real row (written through the API, so its metadata
// is what the server writes) to n names prefix0000001… Listing reads rows
// only, so the rows need no bytes.
const seedSQL = `insert into storage.objects (bucket_id, name, owner, owner_id, metadata, version)
select $1, $2 || lpad(i::text, 7, '0'), t.owner, t.owner_id, t.metadata, t.version
from storage.objects t, generate_series($3::int, $4::int) i
where t.bucket_id = $5 and t.name = $6`

// seed fills bucket with n rows below prefix (adding what is missing),
// then vacuums and analyzes the table, as autovacuum would have by then.
func (m *monitor) seed(ctx context.Context, bucket, prefix string, n int, tplBucket, tplKey string) error {
	have, err := m.countKeys(ctx, bucket, prefix)
	if err != nil || have >= n {
		return err
	}
	const batch = 250000
	for from := have + 1; from <= n; from += batch {
		to := min(from+batch-1, n)
		tag, err := m.conn.Exec(ctx, seedSQL, bucket, prefix, from, to, tplBucket, tplKey)
		if err != nil {
			return fmt.Errorf("bench: seed %s: %w", bucket, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("bench: seed %s: template %s/%s not found", bucket, tplBucket, tplKey)
		}
	}
	_, err = m.conn.Exec(ctx, "vacuum analyze storage.objects")
	return err
}

// stmtStat is one pg_stat_statements entry.
type stmtStat struct {
	calls, rows int64
	ms          float64
	query       string
}

// Statement is a statement's share of a workload, from pg_stat_statements.
type Statement struct {
	CallsPerOp float64 `json:"calls_per_op"`
	RowsPerOp  float64 `json:"rows_per_op"`
	MsPerOp    float64 `json:"exec_ms_per_op"`
	Query      string  `json:"query"`
}

const stmtsSQL = `select queryid, calls, rows, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 200)
from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat_%'`

func (m *monitor) statements(ctx context.Context) (map[int64]stmtStat, error) {
	rows, err := m.conn.Query(ctx, stmtsSQL)
	if err != nil {
		return nil, err
	}
	out := map[int64]stmtStat{}
	for rows.Next() {
		var id int64
		var s stmtStat
		if err := rows.Scan(&id, &s.calls, &s.rows, &s.ms, &s.query); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// topStatements is the delta between two statement snapshots, the most
// called first, per operation.
func topStatements(before, after map[int64]stmtStat, ops float64, n int) (calls float64, top []Statement) {
	for id, a := range after {
		b := before[id]
		d := a.calls - b.calls
		if d <= 0 {
			continue
		}
		calls += float64(d)
		top = append(top, Statement{CallsPerOp: float64(d) / ops, RowsPerOp: float64(a.rows-b.rows) / ops,
			MsPerOp: (a.ms - b.ms) / ops, Query: a.query})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].CallsPerOp > top[j].CallsPerOp })
	if len(top) > n {
		top = top[:n]
	}
	return calls / ops, top
}
