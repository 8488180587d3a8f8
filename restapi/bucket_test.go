package restapi

import (
	"encoding/json"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

// stableTimes blanks timestamps and uuids so bodies can be golden files.
var (
	timeRe = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"|"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d (UTC|GMT)"`)
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

func stable(b []byte) []byte {
	b = timeRe.ReplaceAll(b, []byte(`"<time>"`))
	return uuidRe.ReplaceAllFunc(b, func(u []byte) []byte {
		switch string(u) {
		case userAID, userBID:
			return u
		}
		return []byte("<uuid>")
	})
}

func TestCreateBucket(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{fileSizeLimit: 50_000_000})
	tests := []struct {
		name    string
		token   string
		body    any
		status  int    // 200 or the body's statusCode
		code    string // on errors
		msg     string
		wantGet string // the stored bucket's file_size_limit/mime types, JSON
	}{
		{name: "a bucket by name", token: s.service, body: map[string]any{"name": "b1"}, status: 200},
		{name: "id differs from name", token: s.service, body: map[string]any{"id": "b2id", "name": "b2"}, status: 200},
		{name: "a size string in decimal units", token: s.service,
			body: map[string]any{"name": "b3", "file_size_limit": "20mb", "allowed_mime_types": []string{"image/*", ""}}, status: 200,
			wantGet: `{"file_size_limit":20000000,"allowed_mime_types":["image/*"]}`},
		{name: "a size string rounded to three significant digits", token: s.service,
			body: map[string]any{"name": "b4", "file_size_limit": "1.2345KB"}, status: 200,
			wantGet: `{"file_size_limit":1230,"allowed_mime_types":null}`},
		{name: "an integer size", token: s.service, body: map[string]any{"name": "b5", "file_size_limit": 1000}, status: 200,
			wantGet: `{"file_size_limit":1000,"allowed_mime_types":null}`},
		{name: "duplicate", token: s.service, body: map[string]any{"name": "b1"}, status: 409, code: "BucketAlreadyExists",
			msg: "The resource already exists"},
		{name: "name with a slash", token: s.service, body: map[string]any{"name": "a/b"}, status: 400, code: "InvalidBucketName"},
		{name: "name with surrounding space", token: s.service, body: map[string]any{"name": " x"}, status: 400, code: "InvalidBucketName"},
		{name: "reserved suffix", token: s.service, body: map[string]any{"name": "x--table-s3"}, status: 400, code: "InvalidBucketName"},
		{name: "name over 100 characters", token: s.service, body: map[string]any{"name": string(make([]byte, 101))}, status: 400, code: "InvalidBucketName"},
		{name: "limit above the global one", token: s.service, body: map[string]any{"name": "big", "file_size_limit": "1GB"},
			status: 413, code: "EntityTooLarge"},
		{name: "malformed size string", token: s.service, body: map[string]any{"name": "bad", "file_size_limit": "20 parsecs"},
			status: 400, code: "InvalidRequest"},
		{name: "malformed mime type", token: s.service, body: map[string]any{"name": "m", "allowed_mime_types": []string{"image"}},
			status: 415, code: "InvalidMimeType"},
		{name: "missing name", token: s.service, body: map[string]any{"public": true}, status: 400, code: "InvalidRequest",
			msg: "body must have required property 'name'"},
		{name: "anon without an insert policy", token: s.anon, body: map[string]any{"name": "anon"}, status: 403,
			code: "AccessDenied", msg: `new row violates row-level security policy for table "buckets"`},
		{name: "a bad token", token: "not-a-jwt", body: map[string]any{"name": "x"}, status: 403, code: "AccessDenied",
			msg: "Invalid Compact JWS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: "POST", path: "/bucket", token: tt.token, body: tt.body})
			if tt.status != 200 {
				wantError(t, r, 400, itoa(tt.status), tt.code, tt.msg)
				return
			}
			name := tt.body.(map[string]any)["name"]
			if r.status != 200 || string(r.body) != `{"name":"`+name.(string)+`"}` {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if tt.wantGet == "" {
				return
			}
			g := s.do(t, req{method: "GET", path: "/bucket/" + name.(string), token: s.service})
			var got struct {
				FileSizeLimit    *int64   `json:"file_size_limit"`
				AllowedMimeTypes []string `json:"allowed_mime_types"`
			}
			if err := json.Unmarshal(g.body, &got); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.wantGet {
				t.Errorf("stored %s, want %s", b, tt.wantGet)
			}
		})
	}
	t.Run("missing Authorization is a schema error", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/bucket", body: map[string]any{"name": "x"}})
		wantError(t, r, 400, "400", "InvalidRequest", "headers must have required property 'authorization'")
		if e := r.json(t).(map[string]any)["error"]; e != "Error" {
			t.Errorf("error label %v, want Error", e)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestGetAndListBuckets(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	for _, b := range []map[string]any{{"name": "alpha", "public": true}, {"name": "Beta"}, {"name": "gamma_1"}} {
		if r := s.do(t, req{method: "POST", path: "/bucket", token: s.service, body: b}); r.status != 200 {
			t.Fatalf("create: %s", r.body)
		}
	}
	t.Run("GET /bucket/:id has exactly the eight fields", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/bucket/alpha", token: s.service})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		golden(t, "get_bucket", stable(r.body))
	})
	t.Run("GET /bucket/:id of a missing bucket", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/bucket/nope", token: s.service})
		wantError(t, r, 400, "404", "NoSuchBucket", "Bucket not found")
		if e := r.json(t).(map[string]any)["error"]; e != "Bucket not found" {
			t.Errorf("label %v", e)
		}
	})
	names := func(t *testing.T, r resp) []string {
		t.Helper()
		var bs []struct{ Name, Type string }
		if err := json.Unmarshal(r.body, &bs); err != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		out := []string{}
		for _, b := range bs {
			out = append(out, b.Name)
		}
		return out
	}
	tests := []struct {
		name, query, token string
		want               []string
	}{
		{name: "all, by name", query: "", token: s.service, want: []string{"Beta", "alpha", "gamma_1"}},
		{name: "descending", query: "?sortColumn=name&sortOrder=desc", token: s.service, want: []string{"gamma_1", "alpha", "Beta"}},
		{name: "paged", query: "?limit=1&offset=1", token: s.service, want: []string{"alpha"}},
		{name: "case-insensitive search", query: "?search=BET", token: s.service, want: []string{"Beta"}},
		{name: "search escapes LIKE wildcards", query: "?search=_", token: s.service, want: []string{"gamma_1"}},
		{name: "anon without a select policy sees none", query: "", token: s.anon, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: "GET", path: "/bucket" + tt.query, token: tt.token})
			if diff := cmp.Diff(tt.want, names(t, r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the list carries type, except for old python clients", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/bucket?limit=1", token: s.service})
		if got := r.json(t).([]any)[0].(map[string]any)["type"]; got != "STANDARD" {
			t.Errorf("type = %v", got)
		}
		r = s.do(t, req{method: "GET", path: "/bucket?limit=1", token: s.service, headers: map[string]string{"X-Client-Info": "supabase-py/2.17.9"}})
		if _, ok := r.json(t).([]any)[0].(map[string]any)["type"]; ok {
			t.Errorf("type sent to an old python client")
		}
	})
	t.Run("bad query values are schema errors", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/bucket?limit=0", token: s.service})
		wantError(t, r, 400, "400", "InvalidRequest", "querystring/limit must be >= 1")
		r = s.do(t, req{method: "GET", path: "/bucket?sortColumn=owner", token: s.service})
		wantError(t, r, 400, "400", "InvalidRequest", "")
	})
}

func TestUpdateAndDeleteBucket(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{fileSizeLimit: 1 << 30})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
		values ('u', 'u', false, 100, '{image/png}'), ('full', 'full', false, null, null)`)
	s.upload(t, "full", "a.txt", "x", "text/plain")
	get := func(t *testing.T) map[string]any {
		t.Helper()
		return s.do(t, req{method: "GET", path: "/bucket/u", token: s.service}).json(t).(map[string]any)
	}
	steps := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		check  func(t *testing.T)
	}{
		{name: "a partial update keeps absent fields", method: "PUT", path: "/bucket/u", body: map[string]any{"id": "u", "name": "u", "public": true},
			status: 200, check: func(t *testing.T) {
				b := get(t)
				if b["public"] != true || b["file_size_limit"] != 100.0 || len(b["allowed_mime_types"].([]any)) != 1 {
					t.Errorf("bucket %v", b)
				}
			}},
		{name: "null clears a field", method: "PUT", path: "/bucket/u", body: map[string]any{"file_size_limit": nil},
			status: 200, check: func(t *testing.T) {
				if b := get(t); b["file_size_limit"] != nil || b["public"] != true {
					t.Errorf("bucket %v", b)
				}
			}},
		{name: "a size string", method: "PUT", path: "/bucket/u", body: map[string]any{"file_size_limit": "1kb"},
			status: 200, check: func(t *testing.T) {
				if b := get(t); b["file_size_limit"] != 1000.0 {
					t.Errorf("bucket %v", b)
				}
			}},
		{name: "nothing to update", method: "PUT", path: "/bucket/u", body: map[string]any{"id": "u", "name": "u"}, status: 400, code: "InvalidRequest"},
		{name: "update a missing bucket", method: "PUT", path: "/bucket/nope", body: map[string]any{"public": true}, status: 404, code: "NoSuchBucket"},
		{name: "anon cannot update (RLS hides the row)", method: "PUT", path: "/bucket/u", body: map[string]any{"public": false},
			status: 404, code: "NoSuchBucket"},
		{name: "delete a bucket holding objects", method: "DELETE", path: "/bucket/full", body: map[string]any{}, status: 409, code: "ResourceNotEmpty"},
		{name: "empty needs the service role", method: "POST", path: "/bucket/full/empty", body: map[string]any{}, status: 403, code: "AccessDenied"},
		{name: "empty a bucket", method: "POST", path: "/bucket/full/empty", body: map[string]any{}, status: 200},
		{name: "empty a missing bucket", method: "POST", path: "/bucket/nope/empty", body: map[string]any{}, status: 404, code: "NoSuchBucket"},
		{name: "then delete it", method: "DELETE", path: "/bucket/full", body: map[string]any{}, status: 200},
		{name: "delete a missing bucket", method: "DELETE", path: "/bucket/full", body: map[string]any{}, status: 404, code: "NoSuchBucket"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			tok := s.service
			switch st.name {
			case "anon cannot update (RLS hides the row)":
				tok = s.anon
			case "empty needs the service role":
				tok = s.userA
			}
			r := s.do(t, req{method: st.method, path: st.path, token: tok, body: st.body})
			switch {
			case st.status == 403 && st.name == "empty needs the service role":
				wantError(t, r, 403, "403", st.code, "Access denied: Invalid role")
			case st.status != 200:
				wantError(t, r, 400, itoa(st.status), st.code, "")
			case r.status != 200:
				t.Fatalf("%d %s", r.status, r.body)
			}
			if st.check != nil {
				st.check(t)
			}
		})
	}
}
