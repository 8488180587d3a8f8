package restapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

// listSample is API.md §3.5's sample.
var listSample = []string{"a.txt", "Folder/x.png", "folder/y.png", "folder/sub/z.png",
	"folder/sub2/.emptyFolderPlaceholder", "folder/Apple.txt", "zeta/q", "folder_x"}

// uploadSample uploads listSample to bucket b, one key at a time (so
// their creation times follow the list).
func uploadSample(t testing.TB, s *server) {
	t.Helper()
	for _, k := range listSample {
		body := "x"
		if strings.HasSuffix(k, ".emptyFolderPlaceholder") {
			body = ""
		}
		s.upload(t, "b", k, body, "text/plain")
	}
}

// listNames renders a v1 answer as names, folders marked "(F)".
func listNames(t testing.TB, r resp) []string {
	t.Helper()
	var es []struct {
		Name string  `json:"name"`
		ID   *string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &es); err != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	out := []string{}
	for _, e := range es {
		if e.ID == nil {
			out = append(out, e.Name+"(F)")
		} else {
			out = append(out, e.Name)
		}
	}
	return out
}

func TestListV1(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies+`insert into storage.buckets (id, name) values ('b', 'b')`)
	uploadSample(t, s)
	s.upload(t, "private", userAID+"/mine.txt", "x", "text/plain")
	s.upload(t, "private", userBID+"/theirs.txt", "x", "text/plain")
	t.Run("the shape of files and folders", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list/b", token: s.service, body: map[string]any{"prefix": "folder", "limit": 3}})
		golden(t, "list_v1", stable(r.body))
	})
	tests := []struct {
		name  string
		token string
		path  string
		body  any
		want  []string
	}{
		{name: "root", body: map[string]any{"prefix": ""}, want: []string{"a.txt", "folder(F)", "folder_x", "zeta(F)"}},
		{name: "a folder, matched case-insensitively", body: map[string]any{"prefix": "folder/"},
			want: []string{"Apple.txt", "sub(F)", "sub2(F)", "x.png", "y.png"}},
		{name: "the trailing slash is added", body: map[string]any{"prefix": "folder"},
			want: []string{"Apple.txt", "sub(F)", "sub2(F)", "x.png", "y.png"}},
		{name: "search is a case-insensitive starts-with", body: map[string]any{"prefix": "folder", "search": "S"},
			want: []string{"sub(F)", "sub2(F)"}},
		{name: "limit and offset", body: map[string]any{"prefix": "folder", "limit": 2, "offset": 2}, want: []string{"sub2(F)", "x.png"}},
		{name: "descending by name", body: map[string]any{"prefix": "folder", "sortBy": map[string]any{"column": "name", "order": "desc"}},
			want: []string{"y.png", "x.png", "sub2(F)", "sub(F)", "Apple.txt"}},
		{name: "by a timestamp, folders first", body: map[string]any{"prefix": "", "sortBy": map[string]any{"column": "created_at", "order": "asc"}},
			want: []string{"Folder(F)", "folder(F)", "zeta(F)", "a.txt", "folder_x"}},
		{name: "RLS: user A sees her folder only", token: s.userA, path: "/object/list/private", body: map[string]any{"prefix": ""},
			want: []string{userAID + "(F)"}},
		{name: "RLS: anon sees nothing", token: s.anon, path: "/object/list/private", body: map[string]any{"prefix": ""}, want: []string{}},
		{name: "a missing bucket lists nothing", path: "/object/list/nope", body: map[string]any{"prefix": ""}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == "" {
				tt.token = s.service
			}
			if tt.path == "" {
				tt.path = "/object/list/b"
			}
			r := s.do(t, req{method: "POST", path: tt.path, token: tt.token, body: tt.body})
			if diff := cmp.Diff(tt.want, listNames(t, r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("prefix is required", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list/b", token: s.service, body: map[string]any{}})
		wantError(t, r, 400, "400", "InvalidRequest", "body must have required property 'prefix'")
	})
	t.Run("limit is capped at 1500", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("insert into storage.objects (bucket_id, name) select 'b', 'many/' || lpad(i::text, 4, '0') from generate_series(1, 1600) i;")
		metatest.Exec(t, s.dsn, sb.String())
		r := s.do(t, req{method: "POST", path: "/object/list/b", token: s.service, body: map[string]any{"prefix": "many", "limit": 5000}})
		if n := len(listNames(t, r)); n != 1500 {
			t.Errorf("%d entries, want 1500", n)
		}
	})
}

// v2Page is a list-v2 answer.
type v2Page struct {
	HasNext    bool   `json:"hasNext"`
	NextCursor string `json:"nextCursor"`
	Folders    []struct {
		Name string `json:"name"`
	} `json:"folders"`
	Objects []struct {
		Name string  `json:"name"`
		ID   *string `json:"id"`
	} `json:"objects"`
}

func TestListV2(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name) values ('b', 'b')`)
	uploadSample(t, s)
	t.Run("the shape", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list-v2/b", token: s.service, body: map[string]any{"with_delimiter": true, "limit": 3}})
		golden(t, "list_v2", stable(r.body))
	})
	// pages lists everything with the given body, page by page.
	pages := func(t *testing.T, body map[string]any) (folders, objects []string, n int) {
		t.Helper()
		for n = 1; n < 50; n++ {
			r := s.do(t, req{method: "POST", path: "/object/list-v2/b", token: s.service, body: body})
			var p v2Page
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, f := range p.Folders {
				folders = append(folders, f.Name)
			}
			for _, o := range p.Objects {
				objects = append(objects, o.Name)
			}
			if !p.HasNext {
				return folders, objects, n
			}
			body["cursor"] = p.NextCursor
		}
		t.Fatal("no end")
		return nil, nil, 0
	}
	tests := []struct {
		name                   string
		body                   map[string]any
		wantFolders, wantFiles []string
		wantPages              int
	}{
		{name: "byte order with folders", body: map[string]any{"with_delimiter": true, "limit": 2},
			wantFolders: []string{"Folder/", "folder/", "zeta/"}, wantFiles: []string{"a.txt", "folder_x"}, wantPages: 3},
		{name: "full keys without a delimiter", body: map[string]any{"prefix": "folder/", "limit": 2},
			wantFiles: []string{"folder/Apple.txt", "folder/sub/z.png", "folder/sub2/.emptyFolderPlaceholder", "folder/y.png"}, wantPages: 2},
		{name: "case-sensitive prefix with folders", body: map[string]any{"prefix": "folder/", "with_delimiter": true},
			wantFolders: []string{"folder/sub/", "folder/sub2/"}, wantFiles: []string{"folder/Apple.txt", "folder/y.png"}, wantPages: 1},
		{name: "descending", body: map[string]any{"with_delimiter": true, "limit": 2, "sortBy": map[string]any{"column": "name", "order": "desc"}},
			wantFolders: []string{"zeta/", "folder/", "Folder/"}, wantFiles: []string{"folder_x", "a.txt"}, wantPages: 3},
		{name: "by creation time", body: map[string]any{"with_delimiter": true, "limit": 2, "sortBy": map[string]any{"column": "created_at"}},
			wantFolders: []string{"Folder/", "folder/", "zeta/"}, wantFiles: []string{"a.txt", "folder_x"}, wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			folders, files, n := pages(t, tt.body)
			if diff := cmp.Diff(tt.wantFolders, folders); diff != "" {
				t.Errorf("folders (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFiles, files); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if n != tt.wantPages {
				t.Errorf("%d pages, want %d", n, tt.wantPages)
			}
		})
	}
	t.Run("by creation time, newest first, continues exactly", func(t *testing.T) {
		var all []string
		body := map[string]any{"limit": 3, "sortBy": map[string]any{"column": "created_at", "order": "desc"}}
		_, all, _ = pages(t, body)
		want := make([]string, len(listSample))
		for i, k := range listSample {
			want[len(listSample)-1-i] = k
		}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a bad sort column", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list-v2/b", token: s.service, body: map[string]any{"sortBy": map[string]any{"column": "size"}}})
		wantError(t, r, 400, "400", "InvalidRequest", "")
	})
	t.Run("a bad cursor", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list-v2/b", token: s.service, body: map[string]any{"cursor": "!!"}})
		wantError(t, r, 400, "400", "InvalidParameter", "")
	})
}
