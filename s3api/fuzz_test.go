package s3api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

// Fuzz with, e.g.,
//
//	go test -run '^$' -fuzz FuzzS3Requests -fuzztime 10s ./s3api/
//
// The seeds below run as plain tests in go test.

// FuzzParseOp: any method, path, query and header choose an operation or
// a client error; never a panic or an internal error.
func FuzzParseOp(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/", "", ""}, {"GET", "/b", "list-type=2&prefix=a", ""}, {"PUT", "/b/k", "partNumber=1&uploadId=x", ""},
		{"POST", "/b", "delete", ""}, {"POST", "/b/k", "uploads", ""}, {"PUT", "/b/k", "", "/src/key"},
		{"DELETE", "/b/k", "uploadId=", ""}, {"GET", "/b/k", "acl&tagging", ""}, {"HEAD", "//", "%zz", ""},
		{"PATCH", "/b/k", "policy", ""}, {"GET", "/b/k/", "versionId=null&partNumber=0", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, method, path, rawQuery, copySrc string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the server answers InvalidArgument before parseOp
		}
		h := http.Header{}
		if copySrc != "" {
			h.Set("X-Amz-Copy-Source", copySrc)
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		op, err := parseOp(method, path, q, h, "")
		if err != nil {
			if e := apierr.From(err); e.Entry().S3Status >= 500 && e.Code != apierr.NotImplemented {
				t.Fatalf("%s %s?%s: %v", method, path, rawQuery, err)
			}
			return
		}
		if op.Kind < OpListBuckets || op.Kind > OpNotImplemented {
			t.Fatalf("%s %s?%s: operation %d", method, path, rawQuery, op.Kind)
		}
	})
}

// FuzzParseRange: Range and x-amz-copy-source-range values either parse
// to a range whose resolution stays inside the object, or are ignored or
// refused; never a panic.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=-0", "bytes=9-3", "bytes=0-1,2-3",
		"bytes=99999999999999999999-", "bytes= 1 - 2 ", "items=0-1", "bytes=-", "bytes=--1"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		rng, err := parseRange(v)
		if err != nil {
			if !apierr.Is(err, apierr.InvalidRange) {
				t.Fatalf("%q: %v", v, err)
			}
			return
		}
		if rng == nil || size < 0 {
			return
		}
		start, end, err := rng.Resolve(size)
		if err == nil && (start < 0 || end < start || end >= size) {
			t.Fatalf("%q on %d bytes resolves to %d-%d", v, size, start, end)
		}
	})
}

// fuzzServer is the S3 front over a fresh database and file backend, on a
// loopback port, for one fuzzing process.
func fuzzServer(f *testing.F) string {
	dsn := metatest.NewDB(f)
	be, err := filestore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	st, err := meta.Open(context.Background(), meta.Options{DSN: dsn, Backend: be, FileSizeLimit: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	v, err := auth.New(auth.Options{Secret: []byte(jwtSecret)})
	if err != nil {
		f.Fatal(err)
	}
	h := New(Options{Store: st, JWT: v, AccessKey: testKey, SecretKey: testSecret, TenantID: "stub"})
	app := fiber.New(fiber.Config{StreamRequestBody: true, BodyLimit: 1 << 20, ReadBufferSize: 32 << 10,
		DisableStartupMessage: true, DisablePreParseMultipartForm: true})
	h.Mount(app, "/s3")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go app.Listener(ln)                                            //nolint:errcheck // ends with the test
	f.Cleanup(func() { app.ShutdownWithTimeout(5 * time.Second) }) //nolint:errcheck
	base := "http://" + ln.Addr().String() + "/s3"
	for _, b := range []string{"fz", "fz2"} {
		req, _ := http.NewRequest(http.MethodPut, base+"/"+b, nil)
		if resp, err := http.DefaultClient.Do(signFuzz(req, nil)); err == nil {
			resp.Body.Close()
		}
	}
	req, _ := http.NewRequest(http.MethodPut, base+"/fz/obj", bytes.NewReader([]byte("0123456789")))
	if resp, err := http.DefaultClient.Do(signFuzz(req, []byte("0123456789"))); err == nil {
		resp.Body.Close()
	}
	return base
}

func signFuzz(req *http.Request, body []byte) *http.Request {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", h)
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		req, h, "s3", "us-east-1", time.Now())
	return req
}

var fuzzMethods = []string{"GET", "PUT", "POST", "DELETE", "HEAD"}

// FuzzS3Requests sends signed requests with fuzzed paths, queries, XML
// bodies and headers through the real S3 front, over Postgres and the file
// backend: every answer is a 2xx, 3xx or 4xx (501 for what is not
// implemented), never another 5xx.
func FuzzS3Requests(f *testing.F) {
	base := fuzzServer(f)
	seeds := []struct {
		m          uint8
		path, q    string
		body       string
		hdr, value string
	}{
		{0, "fz", "list-type=2&max-keys=-1", "", "", ""},
		{0, "fz", "list-type=2&continuation-token=%%%", "", "", ""},
		{0, "fz", "list-type=2&continuation-token=AAAA&start-after=\xff", "", "", ""},
		{0, "fz", "marker=a&delimiter=/&encoding-type=url&prefix=\x00", "", "", ""},
		{0, "fz", "versions&key-marker=z&version-id-marker=q", "", "", ""},
		{0, "fz", "uploads&max-uploads=0&upload-id-marker=x", "", "", ""},
		{2, "fz", "delete", "<Delete><Object><Key>obj</Key></Object><Quiet>true</Quiet></Delete>", "", ""},
		{2, "fz", "delete", "<Delete><Object><Key>\x00</Key></Object></Delete>", "", ""},
		{2, "fz", "delete", "<Delete><Object>", "", ""},
		{2, "fz/k", "uploads", "", "Content-Type", "text/plain"},
		{2, "fz/k", "uploadId=abc.def", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", "", ""},
		{2, "fz/k", "uploadId=abc", "<CompleteMultipartUpload><Part><PartNumber>-5</PartNumber></Part></CompleteMultipartUpload>", "", ""},
		{1, "fz/k", "partNumber=0&uploadId=x", "abc", "", ""},
		{1, "fz/k", "", "abc", "X-Amz-Copy-Source", "fz/obj"},
		{1, "fz/k", "", "", "X-Amz-Copy-Source", "/fz/%zz?versionId=1"},
		{1, "fz/k", "partNumber=1&uploadId=a.b", "", "X-Amz-Copy-Source-Range", "bytes=5-1"},
		{1, "fz/k", "", "abc", "Content-MD5", "not base64"},
		{1, "fz/k", "", "abc", "X-Amz-Checksum-Crc32", "%%%"},
		{1, "fz/k", "", "abc", "If-None-Match", "*"},
		{1, "new-bucket", "", "<CreateBucketConfiguration><LocationConstraint>x</LocationConstraint></CreateBucketConfiguration>", "", ""},
		{1, "new-bucket2", "", "<<<", "X-Amz-Acl", "public-read"},
		{0, "fz/obj", "", "", "Range", "bytes=-0"},
		{0, "fz/obj", "partNumber=2", "", "If-Modified-Since", "yesterday"},
		{0, "fz/obj", "response-content-type=%0d%0aX:y", "", "If-Match", "\"x\""},
		{4, "fz/obj", "", "", "If-None-Match", "*"},
		{3, "fz/obj", "versionId=1", "", "", ""},
		{1, "fz/obj", "acl", "<AccessControlPolicy/>", "", ""},
		{0, "fz", "location", "", "", ""},
		{1, "fz", "lifecycle", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.m, s.path, s.q, []byte(s.body), s.hdr, s.value)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, m uint8, path, rawQuery string, body []byte, hdr, value string) {
		segs := strings.Split(path, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		u := base + "/" + strings.Join(segs, "/")
		if q, err := url.ParseQuery(rawQuery); err == nil && len(q) > 0 {
			u += "?" + strings.ReplaceAll(q.Encode(), "=&", "&")
		}
		req, err := http.NewRequest(fuzzMethods[int(m)%len(fuzzMethods)], u, bytes.NewReader(body))
		if err != nil {
			return
		}
		if hdr != "" {
			if !validHeader(hdr, value) {
				return
			}
			req.Header.Set(hdr, value)
		}
		resp, err := client.Do(signFuzz(req, body))
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s %s (%s: %q, %d body bytes): %d %s", req.Method, u, hdr, value, len(body), resp.StatusCode, b)
		}
	})
}

// validHeader reports whether an HTTP client can send the header at all.
func validHeader(name, value string) bool {
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "Expect":
		return false
	}
	return true
}
