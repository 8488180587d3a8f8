package meta

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

// searchSample is API.md §3.5's sample, whose listings were observed on the
// reference.
var searchSample = []string{"a.txt", "Folder/x.png", "folder/y.png", "folder/sub/z.png",
	"folder/sub2/.emptyFolderPlaceholder", "folder/Apple.txt", "zeta/q", "folder_x"}

func insertKeys(t *testing.T, dsn, bucket string, keys []string) {
	t.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "insert into storage.buckets (id, name) values ('%s', '%s') on conflict do nothing;\n", bucket, bucket)
	for _, k := range keys {
		fmt.Fprintf(&sb, "insert into storage.objects (bucket_id, name, version, metadata) values ('%s', '%s', 'v', '{\"size\": 1}');\n",
			bucket, strings.ReplaceAll(k, "'", "''"))
	}
	metatest.Exec(t, dsn, sb.String())
}

// entryNames renders entries as names, folders marked with a trailing "(F)".
func entryNames(es []SearchEntry) []string {
	out := []string{}
	for _, e := range es {
		if e.Object == nil {
			out = append(out, e.Name+"(F)")
		} else {
			out = append(out, e.Name)
		}
	}
	return out
}

func TestSearchV1MatchesTheReference(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	insertKeys(t, dsn, "b", searchSample)
	ctx := context.Background()
	tests := []struct {
		name string
		q    SearchQuery
		want []string
	}{
		{name: "root interleaves files and folders case-insensitively",
			q: SearchQuery{}, want: []string{"a.txt", "folder(F)", "folder_x", "zeta(F)"}},
		{name: "a folder lists names relative to it, matching its case-insensitively",
			q: SearchQuery{Prefix: "folder/"}, want: []string{"Apple.txt", "sub(F)", "sub2(F)", "x.png", "y.png"}},
		{name: "search is a case-insensitive starts-with",
			q: SearchQuery{Prefix: "folder/", Search: "S"}, want: []string{"sub(F)", "sub2(F)"}},
		{name: "search is not a substring match",
			q: SearchQuery{Prefix: "folder/", Search: "png"}, want: []string{}},
		{name: "limit and offset count folders and files",
			q: SearchQuery{Prefix: "folder/", Limit: 2, Offset: 1}, want: []string{"sub(F)", "sub2(F)"}},
		{name: "descending is the exact reverse",
			q: SearchQuery{Prefix: "folder/", Desc: true}, want: []string{"y.png", "x.png", "sub2(F)", "sub(F)", "Apple.txt"}},
		{name: "descending root keeps the ascending folder names",
			q: SearchQuery{Desc: true}, want: []string{"zeta(F)", "folder_x", "folder(F)", "a.txt"}},
		{name: "a timestamp sort puts folders first",
			q: SearchQuery{SortColumn: "created_at"}, want: []string{"Folder(F)", "folder(F)", "zeta(F)", "a.txt", "folder_x"}},
		{name: "an empty folder lists nothing",
			q: SearchQuery{Prefix: "nothing/"}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Bucket = "b"
			got, err := s.Search(ctx, Service(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, entryNames(got)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// modelSearch is the v1 name-sorted listing computed in Go (ASCII keys).
func modelSearch(keys []string, prefix, search string) []string {
	type ent struct{ lname, name, show string }
	var all []ent
	for _, k := range keys {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, strings.ToLower(prefix+search)) {
			continue
		}
		all = append(all, ent{lk, k, ""})
	}
	slices.SortFunc(all, func(a, b ent) int {
		if c := strings.Compare(a.lname, b.lname); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := []string{}
	skip := ""
	for _, e := range all {
		if skip != "" && strings.HasPrefix(e.lname, skip) {
			continue
		}
		rest := e.name[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			out = append(out, rest[:i]+"(F)")
			skip = e.lname[:len(prefix)+i+1]
			continue
		}
		out = append(out, rest)
	}
	return out
}

func TestSearchV1AgreesWithAModel(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	var keys []string
	for i := 0; i < 400; i++ {
		switch i % 4 {
		case 0:
			keys = append(keys, fmt.Sprintf("Dir%d/f%03d", i%3, i))
		case 1:
			keys = append(keys, fmt.Sprintf("dir%d/Sub/%03d", i%3, i))
		case 2:
			keys = append(keys, fmt.Sprintf("file-%03d", i))
		case 3:
			keys = append(keys, fmt.Sprintf("FILE-%03d.txt", i))
		}
	}
	insertKeys(t, dsn, "m", keys)
	ctx := context.Background()
	for _, c := range []struct{ prefix, search string }{{"", ""}, {"", "f"}, {"dir1/", ""}, {"DIR2/", "s"}, {"", "file-1"}} {
		t.Run(fmt.Sprintf("prefix %q search %q", c.prefix, c.search), func(t *testing.T) {
			want := modelSearch(keys, c.prefix, c.search)
			var got []string
			for off := 0; ; off += 7 {
				page, err := s.Search(ctx, Service(), SearchQuery{Bucket: "m", Prefix: c.prefix, Search: c.search, Limit: 7, Offset: off})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, entryNames(page)...)
				if len(page) < 7 {
					break
				}
			}
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paged listing (-want +got):\n%s", diff)
			}
			desc, err := s.Search(ctx, Service(), SearchQuery{Bucket: "m", Prefix: c.prefix, Search: c.search, Limit: 1500, Desc: true})
			if err != nil {
				t.Fatal(err)
			}
			rev := slices.Clone(want)
			slices.Reverse(rev)
			if diff := cmp.Diff(rev, entryNames(desc)); diff != "" {
				t.Errorf("descending listing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchV1RespectsRLS(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	metatest.Exec(t, dsn, folderPolicy)
	got, err := s.Search(context.Background(), userA(), SearchQuery{Bucket: "private"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"11111111-1111-1111-1111-111111111111(F)"}, entryNames(got)); diff != "" {
		t.Errorf("user A's root (-want +got):\n%s", diff)
	}
	got, err = s.Search(context.Background(), Anon(), SearchQuery{Bucket: "private"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("anon sees %v", entryNames(got))
	}
}
