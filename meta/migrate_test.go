package meta

import (
	"context"
	"testing"

	"github.com/supagate/storage/meta/metatest"
	"github.com/supagate/storage/migrations"
)

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := context.Background()
	metatest.Exec(t, dsn, `insert into storage.buckets (id, name, public) values ('keep', 'keep', true);
		insert into storage.objects (bucket_id, name, metadata) values ('keep', 'k', '{"size": 3}')`)

	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v, err %v; want nothing", applied, err)
	}
	// Forget that they ran: every file must apply again over the existing
	// schema without error and without touching data.
	metatest.Exec(t, dsn, "delete from storage.migrations where name like 'gateway-%'")
	all, _ := migrations.List()
	applied, err = s.Migrate(ctx)
	if err != nil || len(applied) != len(all) {
		t.Fatalf("re-run applied %d of %d, err %v", len(applied), len(all), err)
	}
	var n int
	var public bool
	if err := s.pool.QueryRow(ctx, `select count(*), bool_and(b.public) from storage.objects o
		join storage.buckets b on b.id = o.bucket_id where b.id = 'keep'`).Scan(&n, &public); err != nil || n != 1 || !public {
		t.Fatalf("data changed: n=%d public=%v err=%v", n, public, err)
	}
}

// supabaseSchema is a database as Supabase Storage leaves it: its own
// migrations recorded, columns and functions already there (some of them
// defined differently from ours), and its own auth helpers.
const supabaseSchema = `
create schema storage;
create table storage.migrations (id integer primary key, name varchar(100) unique not null,
    hash varchar(40) not null, executed_at timestamp default current_timestamp);
insert into storage.migrations (id, name, hash) values (0, 'create-migrations-table', 'x'), (63, 'fix-search-name-relative-to-prefix', 'y');
create table storage.buckets (id text primary key, name text not null, owner uuid,
    created_at timestamptz default now(), updated_at timestamptz default now(), public boolean default false);
create table storage.objects (id uuid primary key default gen_random_uuid(), bucket_id text references storage.buckets(id),
    name text, owner uuid, created_at timestamptz default now(), updated_at timestamptz default now(),
    last_accessed_at timestamptz default now(), metadata jsonb);
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
insert into storage.objects (bucket_id, name, metadata) values ('avatars', 'me.png', '{"size": 10}');
create schema auth;
create function auth.uid() returns uuid language sql stable as $$ select '00000000-0000-0000-0000-000000000001'::uuid $$;
`

func TestMigrationsOverASupabaseDatabase(t *testing.T) {
	t.Parallel()
	dsn := metatest.NewDB(t)
	// Start from an empty storage schema shaped like Supabase's.
	metatest.Exec(t, dsn, "drop schema storage cascade; drop schema auth cascade;"+supabaseSchema)
	s, err := Open(context.Background(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var uid, ver string
	var n int
	err = s.pool.QueryRow(ctx, `select auth.uid()::text, (select count(*) from storage.objects where name = 'me.png'),
		coalesce((select string_agg(name, ',' order by id) from storage.migrations where id < 10000), '')`).Scan(&uid, &n, &ver)
	if err != nil {
		t.Fatal(err)
	}
	if uid != "00000000-0000-0000-0000-000000000001" {
		t.Errorf("auth.uid() was replaced: %s", uid)
	}
	if n != 1 || ver != "create-migrations-table,fix-search-name-relative-to-prefix" {
		t.Errorf("existing data changed: objects=%d migrations=%q", n, ver)
	}
	var cols int
	if err := s.pool.QueryRow(ctx, `select count(*) from information_schema.columns where table_schema='storage'
		and table_name='objects' and column_name in ('path_tokens','version','owner_id','user_metadata')`).Scan(&cols); err != nil || cols != 4 {
		t.Errorf("missing object columns were not added: %d %v", cols, err)
	}
}
