package restapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/s3store"
	"github.com/supagate/storage/meta/metatest"
)

// newS3Backend is an s3store over an in-process gofakes3 server.
func newS3Backend(t testing.TB) backend.Backend {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("objects"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: "objects", Endpoint: srv.URL, Region: "us-east-1",
		ForcePathStyle: true, AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		PartSize: s3store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestObjectLifecycleOnEachBackend runs the byte-moving routes against
// both backends: filestore and s3store on gofakes3.
func TestObjectLifecycleOnEachBackend(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		new  func(testing.TB) backend.Backend
	}{
		{name: "filestore", new: func(testing.TB) backend.Backend { return nil }},
		{name: "s3store", new: newS3Backend},
	} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, serverOpts{backend: be.new(t)})
			metatest.Exec(t, s.dsn, perUserPolicies)
			big := strings.Repeat("0123456789", 700_000) // 7 MB: more than one S3 part
			form, formType := multipartBody(t, map[string]string{"cacheControl": "10"}, "text/plain", "from a form")
			steps := []struct {
				name    string
				r       req
				status  int
				body    string // expected response body, when set
				headers map[string]string
			}{
				{name: "raw upload", r: req{method: "POST", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "hello world"}, status: 200},
				{name: "chunked upload", r: req{method: "POST", path: "/object/private/" + userAID + "/big.bin", token: s.userA,
					body: chunked{strings.NewReader(big)}}, status: 200},
				{name: "multipart upload", r: req{method: "POST", path: "/object/private/" + userAID + "/form.txt", token: s.userA, body: form,
					headers: map[string]string{"Content-Type": formType}}, status: 200},
				{name: "download", r: req{method: "GET", path: "/object/private/" + userAID + "/a.txt", token: s.userA}, status: 200, body: "hello world"},
				{name: "download a multipart upload", r: req{method: "GET", path: "/object/private/" + userAID + "/form.txt", token: s.userA},
					status: 200, body: "from a form", headers: map[string]string{"Cache-Control": "max-age=10"}},
				{name: "download the big one", r: req{method: "GET", path: "/object/private/" + userAID + "/big.bin", token: s.userA}, status: 200, body: big},
				{name: "range", r: req{method: "GET", path: "/object/private/" + userAID + "/big.bin", token: s.userA,
					headers: map[string]string{"Range": "bytes=6999990-6999999"}}, status: 206, body: "0123456789"},
				{name: "head", r: req{method: "HEAD", path: "/object/private/" + userAID + "/big.bin", token: s.userA}, status: 200,
					headers: map[string]string{"Content-Length": "7000000"}},
				{name: "update", r: req{method: "PUT", path: "/object/private/" + userAID + "/a.txt", token: s.userA, body: "v2"}, status: 200},
				{name: "download the update", r: req{method: "GET", path: "/object/private/" + userAID + "/a.txt", token: s.userA}, status: 200, body: "v2"},
				{name: "copy", r: req{method: "POST", path: "/object/copy", token: s.userA, body: map[string]any{"bucketId": "private",
					"sourceKey": userAID + "/a.txt", "destinationKey": userAID + "/b.txt"}}, status: 200},
				{name: "move", r: req{method: "POST", path: "/object/move", token: s.userA, body: map[string]any{"bucketId": "private",
					"sourceKey": userAID + "/b.txt", "destinationKey": userAID + "/c.txt"}}, status: 200},
				{name: "download the moved copy", r: req{method: "GET", path: "/object/private/" + userAID + "/c.txt", token: s.userA}, status: 200, body: "v2"},
				{name: "delete", r: req{method: "DELETE", path: "/object/private/" + userAID + "/c.txt", token: s.userA}, status: 200},
				{name: "bulk delete", r: req{method: "DELETE", path: "/object/private", token: s.userA,
					body: map[string]any{"prefixes": []string{userAID + "/big.bin", userAID + "/form.txt"}}}, status: 200},
				{name: "empty the bucket", r: req{method: "POST", path: "/bucket/private/empty", token: s.service, body: map[string]any{}}, status: 200},
				{name: "delete the bucket", r: req{method: "DELETE", path: "/bucket/private", token: s.service}, status: 200},
			}
			for _, st := range steps {
				r := s.do(t, st.r)
				if r.status != st.status {
					t.Fatalf("%s: %d %s", st.name, r.status, r.body)
				}
				if st.body != "" && string(r.body) != st.body {
					t.Fatalf("%s: body of %d bytes differs", st.name, len(r.body))
				}
				for k, v := range st.headers {
					if got := r.header.Get(k); got != v {
						t.Errorf("%s: %s = %q, want %q", st.name, k, got, v)
					}
				}
			}
			t.Run("signed URLs", func(t *testing.T) {
				s.upload(t, "open", "s.txt", "signed", "text/plain")
				r := s.do(t, req{method: "POST", path: "/object/sign/open/s.txt", token: s.service, body: map[string]any{"expiresIn": 60}})
				var got struct{ SignedURL string }
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				if r := s.do(t, req{method: "GET", path: got.SignedURL}); string(r.body) != "signed" {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		})
	}
}
