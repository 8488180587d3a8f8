package restapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/metatest"
)

// readFixture is a private and a public bucket with per-user policies and
// an object of user A in each.
func readFixture(t testing.TB, o serverOpts) *server {
	t.Helper()
	s := newServer(t, o)
	metatest.Exec(t, s.dsn, perUserPolicies)
	r := s.do(t, req{method: "POST", path: "/object/private/" + userAID + "/doc.txt", token: s.userA, body: "hello world",
		headers: map[string]string{"Content-Type": "text/plain", "Cache-Control": "max-age=60"}})
	if r.status != 200 {
		t.Fatalf("upload: %s", r.body)
	}
	s.upload(t, "open", userAID+"/pic.html", "<b>hi</b>", "text/html; charset=utf-8")
	return s
}

func TestDownloadAccess(t *testing.T) {
	t.Parallel()
	s := readFixture(t, serverOpts{})
	priv, pub := userAID+"/doc.txt", userAID+"/pic.html"
	const ok, noBucket, noKey, noAuth = "200", "NoSuchBucket", "NoSuchKey", "InvalidRequest"
	tests := []struct {
		route string // path before the bucket
		key   string // bucket/key
		want  map[string]string
	}{
		{route: "/object/", key: "private/" + priv, want: map[string]string{
			"none": noBucket, "bogus": noBucket, "anon": noKey, "userA": ok, "userB": noKey, "service": ok}},
		{route: "/object/", key: "open/" + pub, want: map[string]string{
			"none": ok, "bogus": ok, "anon": ok, "userA": ok, "userB": ok, "service": ok}},
		{route: "/object/authenticated/", key: "private/" + priv, want: map[string]string{
			"none": noAuth, "anon": noKey, "userA": ok, "userB": noKey, "service": ok}},
		{route: "/object/authenticated/", key: "open/" + pub, want: map[string]string{
			"none": noAuth, "anon": ok, "userB": ok}},
		{route: "/object/public/", key: "private/" + priv, want: map[string]string{
			"none": noBucket, "userA": noBucket, "service": noBucket}},
		{route: "/object/public/", key: "open/" + pub, want: map[string]string{"none": ok, "userB": ok}},
		{route: "/object/", key: "open/" + userAID + "/missing", want: map[string]string{"none": noKey, "service": noKey}},
		{route: "/object/", key: "nope/x", want: map[string]string{"none": noBucket, "service": noBucket}},
	}
	tokens := map[string]string{"none": "", "bogus": "bogus", "anon": s.anon, "userA": s.userA, "userB": s.userB, "service": s.service}
	for _, tt := range tests {
		for who, want := range tt.want {
			for _, method := range []string{"GET", "HEAD"} {
				t.Run(method+" "+tt.route+tt.key+" as "+who, func(t *testing.T) {
					r := s.do(t, req{method: method, path: tt.route + tt.key, token: tokens[who]})
					switch {
					case want == ok && r.status != 200:
						t.Fatalf("got %d %s, want 200", r.status, r.body)
					case want == ok:
					case method == "HEAD":
						if r.status != 400 || len(r.body) != 0 {
							t.Fatalf("got %d %q, want a bodiless 400", r.status, r.body)
						}
					default:
						var sc string
						switch want {
						case noBucket, noKey:
							sc = "404"
						default:
							sc = "400"
						}
						wantError(t, r, 400, sc, want, "")
					}
				})
			}
		}
	}
}

func TestDownloadHeaders(t *testing.T) {
	t.Parallel()
	s := readFixture(t, serverOpts{})
	path := "/object/private/" + userAID + "/doc.txt"
	full := s.do(t, req{method: "GET", path: path, token: s.userA})
	etag := full.header.Get("ETag")
	lastMod := full.header.Get("Last-Modified")
	lm, err := http.ParseTime(lastMod)
	if err != nil || etag == "" {
		t.Fatalf("ETag %q, Last-Modified %q: %v", etag, lastMod, err)
	}
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int
		body    string
		want    map[string]string // response headers
	}{
		{name: "whole object", method: "GET", path: path, status: 200, body: "hello world", want: map[string]string{
			"Content-Type": "text/plain", "Content-Length": "11", "Accept-Ranges": "bytes", "Cache-Control": "max-age=60",
			"X-Robots-Tag": "none", "ETag": etag}},
		{name: "text/html is sent as text/plain", method: "GET", path: "/object/open/" + userAID + "/pic.html", status: 200,
			body: "<b>hi</b>", want: map[string]string{"Content-Type": "text/plain"}},
		{name: "a range", method: "GET", path: path, headers: map[string]string{"Range": "bytes=0-4"}, status: 206, body: "hello",
			want: map[string]string{"Content-Range": "bytes 0-4/11", "Content-Length": "5"}},
		{name: "a suffix range", method: "GET", path: path, headers: map[string]string{"Range": "bytes=-5"}, status: 206, body: "world",
			want: map[string]string{"Content-Range": "bytes 6-10/11"}},
		{name: "an open range", method: "GET", path: path, headers: map[string]string{"Range": "bytes=6-"}, status: 206, body: "world"},
		{name: "a range past the end", method: "GET", path: path, headers: map[string]string{"Range": "bytes=20-"}, status: 416},
		{name: "a matching If-None-Match", method: "GET", path: path, headers: map[string]string{"If-None-Match": etag}, status: 304,
			want: map[string]string{"ETag": etag}},
		{name: "another If-None-Match", method: "GET", path: path, headers: map[string]string{"If-None-Match": `"other"`}, status: 200,
			body: "hello world", want: map[string]string{"Cache-Control": "max-age=60, stale-while-revalidate=30"}},
		{name: "If-Modified-Since now", method: "GET", path: path,
			headers: map[string]string{"If-Modified-Since": lm.Format(http.TimeFormat)}, status: 304},
		{name: "If-Modified-Since before", method: "GET", path: path,
			headers: map[string]string{"If-Modified-Since": lm.Add(-time.Hour).Format(http.TimeFormat)}, status: 200, body: "hello world"},
		{name: "download", method: "GET", path: path + "?download", status: 200, want: map[string]string{"Content-Disposition": "attachment;"}},
		{name: "download as", method: "GET", path: path + "?download=r%C3%A9sum%C3%A9%20final.txt", status: 200,
			want: map[string]string{"Content-Disposition": "attachment; filename=r%C3%A9sum%C3%A9%20final.txt; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.txt;"}},
		{name: "HEAD from the row", method: "HEAD", path: path, status: 200, body: "", want: map[string]string{
			"Content-Length": "11", "Content-Type": "text/plain", "ETag": etag, "Last-Modified": lastMod, "Cache-Control": "max-age=60"}},
		{name: "HEAD with another If-None-Match", method: "HEAD", path: path, headers: map[string]string{"If-None-Match": `"x"`},
			status: 200, want: map[string]string{"Cache-Control": "max-age=60, must-revalidate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: tt.method, path: tt.path, token: s.userA, headers: tt.headers})
			if r.status != tt.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tt.status)
			}
			if tt.status == 416 {
				wantError(t, r, 416, "400", "InvalidRange", "")
				return
			}
			if tt.body != "" && string(r.body) != tt.body {
				t.Errorf("body %q, want %q", r.body, tt.body)
			}
			for k, v := range tt.want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	t.Run("a stored X-Robots-Tag is echoed", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/open/robots.txt", token: s.service, body: "r",
			headers: map[string]string{"X-Robots-Tag": "googlebot: noindex, nofollow"}})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got := s.do(t, req{method: "GET", path: "/object/open/robots.txt"}).header.Get("X-Robots-Tag"); got != "googlebot: noindex, nofollow" {
			t.Errorf("X-Robots-Tag %q", got)
		}
	})
	t.Run("bytes missing from the backend", func(t *testing.T) {
		o, err := s.store.GetObject(context.Background(), meta.Service(), meta.ReadService, "private", userAID+"/doc.txt")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.be.Delete(context.Background(), s.store.BackendKey(o.BucketID, o.Name, o.Version)); err != nil {
			t.Fatal(err)
		}
		r := s.do(t, req{method: "GET", path: path, token: s.userA})
		wantError(t, r, 400, "404", "NoSuchKey", "The resource was not found")
		if e := r.json(t).(map[string]any)["error"]; e != "Not found" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("error %v, cache-control %q", e, r.header.Get("Cache-Control"))
		}
	})
}

func TestObjectInfo(t *testing.T) {
	t.Parallel()
	s := readFixture(t, serverOpts{})
	r := s.do(t, req{method: "POST", path: "/object/open/" + userAID + "/meta.txt", token: s.userA, body: "m",
		headers: map[string]string{"Content-Type": "text/plain", "X-Metadata": "eyJhIjoxfQ=="}})
	if r.status != 200 {
		t.Fatal(string(r.body))
	}
	t.Run("the body", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/object/info/public/open/" + userAID + "/meta.txt", token: s.userA})
		if r.status != 200 || r.header.Get("ETag") == "" || r.header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
		body := strings.ReplaceAll(string(stable(r.body)), r.header.Get("ETag")[1:len(r.header.Get("ETag"))-1], "<etag>")
		golden(t, "object_info", []byte(body))
	})
	tests := []struct {
		name, path, token string
		code              string // "" for success
	}{
		{name: "anonymous, public bucket", path: "/object/info/public/open/" + userAID + "/meta.txt"},
		{name: "anonymous on the optional route, public bucket", path: "/object/info/open/" + userAID + "/meta.txt"},
		{name: "public route, private bucket", path: "/object/info/public/private/" + userAID + "/doc.txt", code: "NoSuchBucket"},
		{name: "optional route, private bucket, no token", path: "/object/info/private/" + userAID + "/doc.txt", code: "NoSuchBucket"},
		{name: "optional route, private bucket, owner", path: "/object/info/private/" + userAID + "/doc.txt", token: s.userA},
		{name: "authenticated route, another user", path: "/object/info/authenticated/private/" + userAID + "/doc.txt", token: s.userB, code: "NoSuchKey"},
		{name: "missing key", path: "/object/info/public/open/nothing", token: s.service, code: "NoSuchKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: "GET", path: tt.path, token: tt.token})
			if tt.code == "" {
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			wantError(t, r, 400, "404", tt.code, "")
		})
	}
}

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	s := readFixture(t, serverOpts{realStatus: true})
	t.Run("real status sends the body's status", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/object/open/nothing", token: s.service})
		wantError(t, r, 404, "404", "NoSuchKey", "Object not found")
		r = s.do(t, req{method: "POST", path: "/object/open/" + userAID + "/pic.html", token: s.service, body: "x"})
		wantError(t, r, 409, "409", "KeyAlreadyExists", "The resource already exists")
	})
	t.Run("an unknown route is a real 404", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/nothing/here?x=1"})
		if r.status != 404 || string(r.body) != `{"error":"Not Found","message":"Route GET:/nothing/here?x=1 not found","statusCode":404}` {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
