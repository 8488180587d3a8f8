package meta

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	dsn := metatest.NewDB(t)
	s, err := Open(context.Background(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dsn
}

func userA() Identity {
	return Identity{Role: RoleAuthenticated, Sub: "11111111-1111-1111-1111-111111111111",
		Claims: json.RawMessage(`{"sub":"11111111-1111-1111-1111-111111111111","role":"authenticated"}`), JWT: "a.b.c",
		Method: "GET", Path: "/object/x", Operation: "storage.object.list"}
}

func TestScopeSettingsReachPolicies(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	id := userA()
	check := func(t *testing.T, got []string) {
		t.Helper()
		want := []string{"authenticated", id.Sub, "authenticated", id.Sub, "storage.object.list", "GET", "/object/x", "a.b.c"}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("setting %d = %q, want %q", i, got[i], want[i])
			}
		}
	}
	const q = `select current_user::text, auth.uid()::text, auth.role(), auth.jwt()->>'sub',
		storage.operation(), current_setting('request.method'), current_setting('request.path'),
		current_setting('request.jwt')`
	t.Run("a batch sees the settings in one implicit transaction", func(t *testing.T) {
		got := make([]string, 8)
		b := &pgx.Batch{}
		b.Queue(q)
		err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
			return br.QueryRow().Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6], &got[7])
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t, got)
	})
	t.Run("a transaction sees the settings from its first statement", func(t *testing.T) {
		got := make([]string, 8)
		err := s.InTx(ctx, id, func(tx *Tx) error {
			return tx.QueryRow(ctx, []any{&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6], &got[7]}, q)
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t, got)
	})
	t.Run("settings do not leak into the next use of the connection", func(t *testing.T) {
		var role string
		if err := s.pool.QueryRow(ctx, "select current_user::text").Scan(&role); err != nil {
			t.Fatal(err)
		}
		if role == RoleAuthenticated {
			t.Fatalf("role leaked: %s", role)
		}
	})
	t.Run("a role outside the allow-list is refused before any SQL", func(t *testing.T) {
		err := s.InTx(ctx, Identity{Role: "postgres"}, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "select 1")
			return err
		})
		if !apierr.Is(err, apierr.AccessDenied) {
			t.Fatalf("err = %v, want AccessDenied", err)
		}
	})
	t.Run("SetRole switches within the transaction", func(t *testing.T) {
		var before, after string
		err := s.InTx(ctx, id, func(tx *Tx) error {
			if err := tx.QueryRow(ctx, []any{&before}, "select current_user::text"); err != nil {
				return err
			}
			tx.SetRole(RoleService)
			return tx.QueryRow(ctx, []any{&after}, "select current_user::text")
		})
		if err != nil || before != RoleAuthenticated || after != RoleService {
			t.Fatalf("before=%q after=%q err=%v", before, after, err)
		}
	})
	t.Run("an error rolls the transaction back", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.InTx(ctx, Service(), func(tx *Tx) error {
			if _, err := tx.Exec(ctx, "insert into storage.buckets (id, name) values ('rb', 'rb')"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		var n int
		if err := s.pool.QueryRow(ctx, "select count(*) from storage.buckets where id = 'rb'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("row survived the rollback: n=%d err=%v", n, err)
		}
	})
}

func TestSQLStateMapping(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		id   Identity
		sql  string
		want apierr.Code
	}{
		{name: "a duplicate key is ResourceAlreadyExists", id: Service(),
			sql: "insert into storage.buckets (id, name) values ('d', 'd'), ('d', 'd')", want: apierr.ResourceAlreadyExists},
		{name: "an RLS WITH CHECK failure is AccessDenied", id: userA(),
			sql: "insert into storage.buckets (id, name) values ('x', 'x')", want: apierr.AccessDenied},
		{name: "a missing foreign key target is RelatedResourceNotFound", id: Service(),
			sql: "insert into storage.objects (bucket_id, name) values ('nope', 'k')", want: apierr.RelatedResourceNotFound},
		{name: "a statement timeout is DatabaseTimeout", id: Service(),
			sql: "set local statement_timeout = '10ms'; select pg_sleep(1)", want: apierr.DatabaseTimeout},
		{name: "a direct delete without the flag is AccessDenied", id: Service(),
			sql: "set local storage.allow_delete_query = 'false'; delete from storage.objects", want: apierr.AccessDenied},
		{name: "an overlong bucket name is InvalidRequest", id: Service(),
			sql: "insert into storage.buckets (id, name) values ('l', repeat('x', 101))", want: apierr.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.InTx(ctx, tt.id, func(tx *Tx) error {
				_, err := tx.Exec(ctx, "select 1")
				if err != nil {
					return err
				}
				// Several statements: use the simple protocol on the raw connection.
				_, err = tx.conn.Conn().PgConn().Exec(ctx, tt.sql).ReadAll()
				return err
			})
			if !apierr.Is(err, tt.want) {
				t.Fatalf("err = %v, want code %d", err, tt.want)
			}
		})
	}
}
