package meta

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/metatest"
)

const folderPolicy = `
create policy "own folder read" on storage.objects for select to authenticated
    using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder write" on storage.objects for insert to authenticated
    with check (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
insert into storage.buckets (id, name) values ('private', 'private');
insert into storage.objects (bucket_id, name, owner_id) values
    ('private', '11111111-1111-1111-1111-111111111111/a.txt', 'a'),
    ('private', '11111111-1111-1111-1111-111111111111/sub/b.txt', 'a'),
    ('private', '22222222-2222-2222-2222-222222222222/c.txt', 'b');
`

func userB() Identity {
	return Identity{Role: RoleAuthenticated, Sub: "22222222-2222-2222-2222-222222222222",
		Claims: json.RawMessage(`{"sub":"22222222-2222-2222-2222-222222222222","role":"authenticated"}`)}
}

func TestRLSDecidesWhoSeesWhat(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	metatest.Exec(t, dsn, folderPolicy)
	ctx := context.Background()
	names := func(t *testing.T, id Identity) []string {
		t.Helper()
		var out []string
		err := s.InTx(ctx, id, func(tx *Tx) error {
			return tx.Query(ctx, func(r pgx.Rows) error {
				var n string
				if err := r.Scan(&n); err != nil {
					return err
				}
				out = append(out, n)
				return nil
			}, "select name from storage.objects where bucket_id = $1", "private")
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		name string
		id   Identity
		want []string
	}{
		{name: "user A sees only her folder", id: userA(), want: []string{
			"11111111-1111-1111-1111-111111111111/a.txt", "11111111-1111-1111-1111-111111111111/sub/b.txt"}},
		{name: "user B sees only his folder", id: userB(), want: []string{"22222222-2222-2222-2222-222222222222/c.txt"}},
		{name: "anon sees nothing", id: Anon(), want: nil},
		{name: "service role sees everything", id: Service(), want: []string{
			"11111111-1111-1111-1111-111111111111/a.txt", "11111111-1111-1111-1111-111111111111/sub/b.txt",
			"22222222-2222-2222-2222-222222222222/c.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(t, tt.id)); diff != "" {
				t.Errorf("visible rows (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("user B cannot write into user A's folder", func(t *testing.T) {
		err := s.InTx(ctx, userB(), func(tx *Tx) error {
			_, err := tx.Exec(ctx, "insert into storage.objects (bucket_id, name) values ('private', $1)",
				"11111111-1111-1111-1111-111111111111/evil.txt")
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Fatalf("err = %v, want an RLS violation", err)
		}
	})
	t.Run("user A can write into her folder", func(t *testing.T) {
		err := s.InTx(ctx, userA(), func(tx *Tx) error {
			_, err := tx.Exec(ctx, "insert into storage.objects (bucket_id, name) values ('private', $1)",
				"11111111-1111-1111-1111-111111111111/new.txt")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
