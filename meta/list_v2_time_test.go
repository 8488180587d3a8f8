package meta

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

func TestListByTime(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	// Keys created a second apart in this order; updated_at runs backwards.
	keys := []string{"b.txt", "dir/one", "a.txt", "dir/two", "other/x", "c.txt"}
	var sb strings.Builder
	sb.WriteString("insert into storage.buckets (id, name) values ('t', 't');\n")
	for i, k := range keys {
		fmt.Fprintf(&sb, `insert into storage.objects (bucket_id, name, version, created_at, updated_at)
			values ('t', '%s', 'v', timestamptz '2024-01-01' + interval '%d seconds', timestamptz '2024-02-01' - interval '%d seconds');`+"\n", k, i, i)
	}
	metatest.Exec(t, dsn, sb.String())
	ctx := context.Background()
	render := func(r TimeListResult) []string {
		out := []string{}
		for _, e := range r.Entries {
			out = append(out, e.Name)
		}
		return out
	}
	tests := []struct {
		name string
		q    TimeListQuery
		want []string
	}{
		{name: "by creation, folders at their first object's time",
			q: TimeListQuery{Column: "created_at", Delimit: true}, want: []string{"b.txt", "dir/", "a.txt", "other/", "c.txt"}},
		{name: "by creation, newest first",
			q: TimeListQuery{Column: "created_at", Delimit: true, Desc: true}, want: []string{"c.txt", "other/", "a.txt", "dir/", "b.txt"}},
		{name: "by update, without folders",
			q: TimeListQuery{Column: "updated_at"}, want: []string{"c.txt", "other/x", "dir/two", "a.txt", "dir/one", "b.txt"}},
		{name: "under a prefix",
			q: TimeListQuery{Column: "created_at", Prefix: "dir/", Delimit: true}, want: []string{"dir/one", "dir/two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Bucket = "t"
			got, err := s.ListByTime(ctx, Service(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, render(got)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("pages continue after the cursor", func(t *testing.T) {
		var got []string
		q := TimeListQuery{Bucket: "t", Column: "created_at", Delimit: true, MaxKeys: 2}
		for i := 0; i < 10; i++ {
			r, err := s.ListByTime(ctx, Service(), q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, render(r)...)
			if !r.Truncated {
				break
			}
			last := r.Entries[len(r.Entries)-1]
			q.After = &TimeCursor{Time: last.Time, Name: last.Name}
		}
		if diff := cmp.Diff([]string{"b.txt", "dir/", "a.txt", "other/", "c.txt"}, got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
	t.Run("a folder's time is its earliest object's", func(t *testing.T) {
		r, err := s.ListByTime(ctx, Service(), TimeListQuery{Bucket: "t", Column: "created_at", Delimit: true})
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC)
		if e := r.Entries[1]; !e.Folder || e.Object != nil || !e.Time.Equal(want) {
			t.Errorf("dir/ = %+v, want a folder at %v", e, want)
		}
	})
}

func TestVisibleNames(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	metatest.Exec(t, dsn, folderPolicy)
	names := []string{"11111111-1111-1111-1111-111111111111/a.txt", "22222222-2222-2222-2222-222222222222/c.txt", "missing"}
	tests := []struct {
		name string
		id   Identity
		want map[string]bool
	}{
		{name: "user A sees her object", id: userA(), want: map[string]bool{names[0]: true}},
		{name: "anon sees nothing", id: Anon(), want: map[string]bool{}},
		{name: "service role sees both", id: Service(), want: map[string]bool{names[0]: true, names[1]: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.VisibleNames(context.Background(), tt.id, "private", names)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("visible (-want +got):\n%s", diff)
			}
		})
	}
}
