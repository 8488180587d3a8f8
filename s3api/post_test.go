package s3api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/sigv4"
)

// postForm builds a browser-style form upload signed with a SigV4 policy.
func postForm(t *testing.T, secret, key string, policy string, file []byte, extra map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	now := time.Now().UTC()
	date := now.Format("20060102")
	cred := testKey + "/" + date + "/us-east-1/s3/aws4_request"
	b64 := base64.StdEncoding.EncodeToString([]byte(policy))
	m := hmac.New(sha256.New, sigv4.SigningKey(secret, date, "us-east-1", "s3"))
	m.Write([]byte(b64))
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fields := map[string]string{"key": key, "policy": b64, "x-amz-algorithm": sigv4.Algorithm,
		"x-amz-credential": cred, "x-amz-date": now.Format(sigv4.TimeFormat), "x-amz-signature": hex.EncodeToString(m.Sum(nil))}
	for k, v := range extra {
		fields[k] = v
	}
	for k, v := range fields {
		w.WriteField(k, v) //nolint:errcheck // bytes.Buffer
	}
	fw, _ := w.CreateFormFile("file", "upload.txt")
	fw.Write(file) //nolint:errcheck // bytes.Buffer
	w.Close()
	return &buf, w.FormDataContentType()
}

func TestPostObjectWithPolicy(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	mustCreateBucket(t, c, "forms")
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	policy := fmt.Sprintf(`{"expiration":%q,"conditions":[{"bucket":"forms"},["starts-with","$key","up/"],
		["content-length-range",0,100]]}`, exp)
	post := func(body io.Reader, ct string) (*http.Response, string) {
		resp, err := http.Post(ts.url+"/forms", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	t.Run("a form within its policy is stored", func(t *testing.T) {
		body, ct := postForm(t, testSecret, "up/${filename}", policy, []byte("form bytes"),
			map[string]string{"success_action_status": "201", "x-amz-meta-tag": "x", "Content-Type": "text/plain"})
		resp, b := post(body, ct)
		if resp.StatusCode != 201 || !strings.Contains(b, "<Key>up/upload.txt</Key>") {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if got := string(get(t, c, "forms", "up/upload.txt")); got != "form bytes" {
			t.Fatalf("stored %q", got)
		}
	})
	tests := []struct {
		name, secret, key, policy string
		file                      []byte
		status                    int
		code                      string
	}{
		{name: "a key outside starts-with is refused", secret: testSecret, key: "other/x", policy: policy, file: []byte("x"), status: 403, code: "AccessDenied"},
		{name: "a file over content-length-range is refused", secret: testSecret, key: "up/big", policy: policy, file: bytes.Repeat([]byte("x"), 200), status: 400, code: "EntityTooLarge"},
		{name: "a wrong signature is refused", secret: "wrong", key: "up/x", policy: policy, file: []byte("x"), status: 403, code: "SignatureDoesNotMatch"},
		{name: "an expired policy is refused", secret: testSecret, key: "up/x", file: []byte("x"), status: 403, code: "AccessDenied",
			policy: `{"expiration":"2000-01-01T00:00:00Z","conditions":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := postForm(t, tt.secret, tt.key, tt.policy, tt.file, nil)
			resp, b := post(body, ct)
			if resp.StatusCode != tt.status || !strings.Contains(b, "<Code>"+tt.code+"</Code>") {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("up/big")}); httpStatus(err) != 404 {
		t.Errorf("a refused form left an object: %v", err)
	}
}

func TestResponseOverridesAndVirtualHosts(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	ctx := context.Background()
	mustCreateBucket(t, c, "vh")
	put(t, c, "vh", "doc.txt", []byte("hello"))
	t.Run("response-* parameters override the stored headers", func(t *testing.T) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vh"), Key: aws.String("doc.txt"),
			ResponseContentType: aws.String("application/x-over"), ResponseContentDisposition: aws.String("attachment; filename=a.txt"),
			ResponseCacheControl: aws.String("no-store")})
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if *out.ContentType != "application/x-over" || *out.ContentDisposition != "attachment; filename=a.txt" || *out.CacheControl != "no-store" {
			t.Fatalf("%v %v %v", *out.ContentType, *out.ContentDisposition, *out.CacheControl)
		}
	})
	t.Run("partNumber 1 of a single-part object is the object", func(t *testing.T) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vh"), Key: aws.String("doc.txt"), PartNumber: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("%q", b)
		}
	})
	t.Run("a virtual-hosted request names the bucket in its Host", func(t *testing.T) {
		h := New(Options{Store: ts.store, AccessKey: testKey, SecretKey: testSecret, VirtualHostDomain: "s3.test"})
		endpoint := listen(t, func(app *fiber.App) { h.Mount(app, "") })
		port := endpoint[strings.LastIndex(endpoint, ":"):]
		vc := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test" + port),
			Credentials: ts.service().Options().Credentials,
			HTTPClient:  &http.Client{Transport: hostRewriter{base: strings.TrimPrefix(endpoint, "http://")}}})
		out, err := vc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vh"), Key: aws.String("doc.txt")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("%q", b)
		}
	})
}

// hostRewriter sends "<bucket>.s3.test" requests to the loopback listener,
// keeping the Host header the client signed (no name is resolved).
type hostRewriter struct{ base string }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = r.URL.Host
	r.URL.Host = h.base
	return http.DefaultTransport.RoundTrip(r)
}
