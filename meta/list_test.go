package meta

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

// listFixture is 2,500 keys: nested folders, unicode and reserved
// characters, keys that are prefixes of others, and a non-slash delimiter.
func listFixture() []string {
	var keys []string
	for i := 0; i < 2500; i++ {
		switch i % 5 {
		case 0:
			keys = append(keys, fmt.Sprintf("a/%03d/file-%d.txt", i%37, i))
		case 1:
			keys = append(keys, fmt.Sprintf("b/%d", i))
		case 2:
			keys = append(keys, fmt.Sprintf("top-%04d", i))
		case 3:
			keys = append(keys, fmt.Sprintf("ünï/cødé %d+&=.bin", i))
		case 4:
			keys = append(keys, fmt.Sprintf("x|y|%d", i%100)+fmt.Sprintf("|%d", i))
		}
	}
	keys = append(keys, "a", "a/", "b/")
	return keys
}

// expected lists keys the way S3 does, for checking.
func expected(keys []string, prefix, delim string, desc bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if cp := commonPrefix(k, prefix, delim); cp != "" {
			k = cp
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if desc {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func TestListObjectsPagesWithoutMissingOrRepeating(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	keys := listFixture()
	metatest.Exec(t, dsn, `insert into storage.buckets (id, name) values ('l', 'l');
		insert into storage.objects (bucket_id, name, version, metadata)
		select 'l', k, 'v', '{"size": 1}' from unnest(array[`+quoteAll(keys)+`]) as k`)
	ctx := context.Background()
	tests := []struct {
		prefix, delim string
		desc          bool
		page          int
	}{
		{"", "/", false, 100}, {"", "", false, 1000}, {"a/", "/", false, 7}, {"a/0", "/", false, 3},
		{"ünï/", "/", false, 250}, {"", "|", false, 50}, {"x|y|", "|", false, 9}, {"", "/", true, 100},
		{"", "", true, 999}, {"b/", "", false, 1}, {"nothing", "/", false, 10}, {"a", "/", false, 2},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("prefix %q delimiter %q desc %v page %d", tt.prefix, tt.delim, tt.desc, tt.page)
		t.Run(name, func(t *testing.T) {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 5000 {
					t.Fatal("listing does not end")
				}
				res, err := s.ListObjects(ctx, Service(), ListQuery{Bucket: "l", Prefix: tt.prefix, Delimiter: tt.delim,
					StartAfter: after, MaxKeys: tt.page, Desc: tt.desc})
				if err != nil {
					t.Fatal(err)
				}
				// Objects and prefixes interleave in key order.
				var page []string
				for _, o := range res.Objects {
					page = append(page, o.Name)
				}
				page = append(page, res.Prefixes...)
				sort.Strings(page)
				if tt.desc {
					sort.Sort(sort.Reverse(sort.StringSlice(page)))
				}
				got = append(got, page...)
				if !res.Truncated {
					break
				}
				after = res.Next
			}
			if diff := cmp.Diff(expected(keys, tt.prefix, tt.delim, tt.desc), got); diff != "" {
				t.Errorf("listing differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListObjectsFollowsRLS(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	metatest.Exec(t, dsn, folderPolicy)
	res, err := s.ListObjects(context.Background(), userA(), ListQuery{Bucket: "private", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"11111111-1111-1111-1111-111111111111/"}, res.Prefixes); diff != "" || len(res.Objects) != 0 {
		t.Errorf("user A sees (-want +got):\n%s objects=%d", diff, len(res.Objects))
	}
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + strings.ReplaceAll(k, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}
