package restapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/metatest"
)

// multipartBody builds a form as storage-js sends a Blob: fields first,
// then the file under an empty field name.
func multipartBody(t testing.TB, fields map[string]string, fileType, content string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range []string{"cacheControl", "contentType", "metadata"} {
		if v, ok := fields[k]; ok {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name=""; filename="blob"`}
	if fileType != "" {
		h["Content-Type"] = []string{fileType}
	}
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, content) //nolint:errcheck // a bytes.Buffer
	w.Close()                  //nolint:errcheck // a bytes.Buffer
	return &buf, w.FormDataContentType()
}

// backendKeys lists the stored versions of bucket/key.
func (s *server) backendKeys(t testing.TB, bucket, key string) []string {
	t.Helper()
	var out []string
	err := s.be.(backend.Lister).List(context.Background(), "stub/"+bucket+"/"+key+"/", func(k string, _ time.Time) error {
		out = append(out, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// chunked hides a reader's length so the client sends it chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestUpload(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{fileSizeLimit: 1 << 20})
	metatest.Exec(t, s.dsn, perUserPolicies+`
		insert into storage.buckets (id, name, file_size_limit, allowed_mime_types) values
		  ('small', 'small', 10, null), ('images', 'images', null, '{image/*}'), ('plain', 'plain', null, '{text/plain}')`)
	form, formType := multipartBody(t, map[string]string{"cacheControl": "3600", "metadata": `{"k":"v"}`}, "image/png", "png bytes")
	typedForm, typedFormType := multipartBody(t, map[string]string{"contentType": "image/gif"}, "text/plain", "gif")
	meta := base64.StdEncoding.EncodeToString([]byte(`{"owner":"me"}`))
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		body    any
		headers map[string]string
		status  int    // 200 or the body's statusCode
		code    string // on errors
		msg     string
		info    string // expected GET /object/info fields, as JSON subset
	}{
		{name: "raw body", method: "POST", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "hello",
			headers: map[string]string{"Content-Type": "text/plain", "Cache-Control": "max-age=60", "X-Metadata": meta}, status: 200,
			info: `{"size":5,"content_type":"text/plain","cache_control":"max-age=60","metadata":{"owner":"me"}}`},
		{name: "raw body without a content type", method: "POST", path: "/object/private/" + userAID + "/raw", token: s.userA, body: "x",
			status: 200, info: `{"content_type":"application/octet-stream","cache_control":"no-cache"}`},
		{name: "multipart form", method: "POST", path: "/object/private/" + userAID + "/form.png", token: s.userA, body: form,
			headers: map[string]string{"Content-Type": formType}, status: 200,
			info: `{"size":9,"content_type":"image/png","cache_control":"max-age=3600","metadata":{"k":"v"}}`},
		{name: "multipart contentType field wins", method: "POST", path: "/object/private/" + userAID + "/typed", token: s.userA,
			body: typedForm, headers: map[string]string{"Content-Type": typedFormType}, status: 200, info: `{"content_type":"image/gif"}`},
		{name: "a duplicate without x-upsert", method: "POST", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "again",
			status: 409, code: "KeyAlreadyExists", msg: "The resource already exists"},
		{name: "a duplicate with x-upsert", method: "POST", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "again!",
			headers: map[string]string{"X-Upsert": "true"}, status: 200, info: `{"size":6}`},
		{name: "PUT replaces", method: "PUT", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "v3", status: 200,
			info: `{"size":2,"metadata":null}`},
		{name: "PUT creates a missing key", method: "PUT", path: "/object/private/" + userAID + "/new.txt", token: s.userA, body: "n", status: 200},
		{name: "into another user's folder", method: "POST", path: "/object/private/" + userBID + "/a.txt", token: s.userA, body: "x",
			status: 403, code: "AccessDenied", msg: `new row violates row-level security policy for table "objects"`},
		{name: "anon may not write", method: "POST", path: "/object/open/" + userAID + "/x", token: s.anon, body: "x",
			status: 403, code: "AccessDenied"},
		{name: "the service role may write anywhere", method: "POST", path: "/object/open/anywhere/x", token: s.service, body: "x", status: 200},
		{name: "a missing bucket", method: "POST", path: "/object/nope/x", token: s.service, body: "x", status: 404, code: "NoSuchBucket"},
		{name: "over the bucket limit (content-length)", method: "POST", path: "/object/small/big", token: s.service,
			body: strings.Repeat("x", 11), status: 413, code: "EntityTooLarge", msg: "The object exceeded the maximum allowed size"},
		{name: "over the bucket limit (chunked)", method: "POST", path: "/object/small/chunked", token: s.service,
			body: chunked{strings.NewReader(strings.Repeat("x", 11))}, status: 413, code: "EntityTooLarge"},
		{name: "over the global limit (chunked)", method: "POST", path: "/object/open/huge", token: s.service,
			body: chunked{io.LimitReader(zeros{}, 3<<20)}, status: 413, code: "EntityTooLarge"},
		{name: "at the bucket limit (chunked)", method: "POST", path: "/object/small/ten", token: s.service,
			body: chunked{strings.NewReader(strings.Repeat("x", 10))}, status: 200, info: `{"size":10}`},
		{name: "a mime type outside the bucket's", method: "POST", path: "/object/images/a.txt", token: s.service, body: "x",
			headers: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "InvalidMimeType", msg: "mime type text/plain is not supported"},
		{name: "a wildcard mime type", method: "POST", path: "/object/images/a.png", token: s.service, body: "x",
			headers: map[string]string{"Content-Type": "image/png"}, status: 200},
		{name: "a charset needs a wildcard", method: "POST", path: "/object/plain/a.txt", token: s.service, body: "x",
			headers: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, status: 415, code: "InvalidMimeType"},
		{name: "a folder placeholder skips the mime check", method: "POST", path: "/object/images/dir/.emptyFolderPlaceholder",
			token: s.service, body: "", headers: map[string]string{"Content-Type": "text/plain"}, status: 200},
		{name: "a folder placeholder holds no bytes", method: "POST", path: "/object/images/dir2/.emptyFolderPlaceholder",
			token: s.service, body: "x", status: 413, code: "EntityTooLarge"},
		{name: "a unicode key, percent-encoded once", method: "POST", path: "/object/open/%C3%BCn%C3%AF/c%C3%B8d%C3%A9%201+%26=.bin",
			token: s.service, body: "u", status: 200, info: `{"name":"ünï/cødé 1+&=.bin"}`},
		{name: "an encoded percent stays a percent", method: "POST", path: "/object/open/100%25", token: s.service, body: "p",
			status: 200, info: `{"name":"100%"}`},
		{name: "a trailing slash belongs to the key", method: "POST", path: "/object/open/dir/", token: s.service, body: "d",
			status: 200, info: `{"name":"dir/"}`},
		{name: "an encoded slash is a slash", method: "POST", path: "/object/open/x%2Fy", token: s.service, body: "s",
			status: 200, info: `{"name":"x/y"}`},
		{name: "a control character", method: "POST", path: "/object/open/a%01b", token: s.service, body: "x", status: 400, code: "InvalidKey"},
		{name: "a key over 1024 bytes", method: "POST", path: "/object/open/" + strings.Repeat("k", 1025), token: s.service, body: "x",
			status: 400, code: "InvalidKey"},
		{name: "a traversal segment", method: "POST", path: "/object/open/a/../b", token: s.service, body: "x", status: 400, code: "InvalidKey"},
		{name: "an invalid X-Robots-Tag", method: "POST", path: "/object/open/robots", token: s.service, body: "x",
			headers: map[string]string{"X-Robots-Tag": "bogus"}, status: 400, code: "InvalidParameter"},
		{name: "missing Authorization", method: "POST", path: "/object/open/x", body: "x", status: 400, code: "InvalidRequest",
			msg: "headers must have required property 'authorization'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: tt.method, path: tt.path, token: tt.token, body: tt.body, headers: tt.headers})
			if tt.status != 200 {
				wantError(t, r, 400, itoa(tt.status), tt.code, tt.msg)
				return
			}
			var got uploadResult
			if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || got.ID == "" {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if tt.info == "" {
				return
			}
			info := s.do(t, req{method: "GET", path: "/object/info/authenticated" + strings.TrimPrefix(tt.path, "/object"), token: s.service})
			wantSubset(t, info.body, tt.info)
		})
	}
	t.Run("bytes of refused uploads are gone", func(t *testing.T) {
		for _, k := range [][2]string{{"small", "big"}, {"small", "chunked"}, {"open", "huge"}, {"images", "dir2/.emptyFolderPlaceholder"}} {
			if keys := s.backendKeys(t, k[0], k[1]); len(keys) != 0 {
				t.Errorf("%s/%s left %v", k[0], k[1], keys)
			}
		}
	})
	t.Run("POST /object/list/x lists, it is not an upload to bucket list", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/list/public", token: s.service, body: map[string]any{"prefix": ""}})
		if r.status != 200 || !strings.HasPrefix(string(r.body), "[") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}

// TestMultipartWithPreparsingApp: an app that lets fasthttp pre-parse
// forms would lose storage-js's files (sent under an empty field name);
// such uploads fail loudly instead of storing nothing.
func TestMultipartWithPreparsingApp(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{preparse: true})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name) values ('b', 'b')`)
	body, ct := multipartBody(t, nil, "text/plain", "form body")
	r := s.do(t, req{method: "POST", path: "/object/b/f.txt", token: s.service, body: body, headers: map[string]string{"Content-Type": ct}})
	wantError(t, r, 500, "500", "InternalError", "")
	body, ct = multipartBody(t, nil, "text/plain", "form body")
	r = s.do(t, req{method: "POST", path: "/object/b/f.txt", token: s.service, body: chunked{body}, headers: map[string]string{"Content-Type": ct}})
	if r.status != 200 {
		t.Fatalf("a chunked form is not pre-parsed and works: %d %s", r.status, r.body)
	}
}

// wantSubset checks that every member of want (a JSON object) is in got.
func wantSubset(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	for k, v := range w {
		gb, _ := json.Marshal(g[k])
		wb, _ := json.Marshal(v)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s = %s, want %s (in %s)", k, gb, wb, got)
		}
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestConcurrentUploadsOfOneKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name) values ('race', 'race')`)
	const n = 8
	statuses := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hr, _ := http.NewRequest("POST", s.url+"/object/race/one", strings.NewReader(strings.Repeat("x", 64<<10)))
			hr.Header.Set("Authorization", "Bearer "+s.service)
			res, err := client.Do(hr)
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var e errShape
			_ = json.Unmarshal(b, &e)
			statuses[i] = e.StatusCode
			if res.StatusCode == 200 {
				statuses[i] = "200"
			}
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for _, st := range statuses {
		switch st {
		case "200":
			won++
		case "409":
			lost++
		default:
			t.Errorf("unexpected outcome %q", st)
		}
	}
	if won != 1 || lost != n-1 {
		t.Fatalf("%d won and %d got 409, want 1 and %d: %v", won, lost, n-1, statuses)
	}
	if keys := s.backendKeys(t, "race", "one"); len(keys) != 1 {
		t.Fatalf("backend holds %v, want exactly the winner's bytes", keys)
	}
}
