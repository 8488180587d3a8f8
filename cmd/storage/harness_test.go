package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

// The fixed secrets of the servers these tests start.
const (
	hJWTSecret  = "harness-jwt-secret-0123456789abcdef"
	hS3Key      = "HARNESSACCESSKEY"
	hS3Secret   = "harness-s3-secret-key-0123456789"
	hEncryption = "harness-encryption-key"
)

// baseEnv is the environment of a server on loopback over the Postgres
// database dsn and a file backend in dir, with the secrets above.
func baseEnv(dsn, dir string) map[string]string {
	return map[string]string{
		"DATABASE_URL": dsn, "STORAGE_DATA_DIR": dir, "SERVER_HOST": "127.0.0.1", "SERVER_PORT": "0",
		"AUTH_JWT_SECRET": hJWTSecret, "S3_PROTOCOL_ACCESS_KEY_ID": hS3Key,
		"S3_PROTOCOL_ACCESS_KEY_SECRET": hS3Secret, "AUTH_ENCRYPTION_KEY": hEncryption,
		"LOG_LEVEL": "warn", "STORAGE_SWEEP_INTERVAL": "0",
	}
}

// liveServer is `storage serve` run in-process by run(), as main runs it.
type liveServer struct {
	url  string // REST root; S3 is below /s3
	root string // the S3 root listener, with S3_PROTOCOL_PORT set
	dir  string
	dsn  string
	logs *syncBuffer // everything the server logged
	stop func()
}

// startLive runs serve in-process over a fresh database and data
// directory; extra overrides the environment.
func startLive(t testing.TB, extra map[string]string) *liveServer {
	t.Helper()
	dsn, dir := metatest.NewDB(t), t.TempDir()
	env := baseEnv(dsn, dir)
	for k, v := range extra {
		env[k] = v
	}
	if d, ok := extra["DATABASE_URL"]; ok {
		dsn = d
	}
	s := &liveServer{dir: dir, dsn: dsn, logs: &syncBuffer{}}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, pw, s.logs)
		pw.Close()
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			t0 := time.Now()
			defer func() {
				if d := time.Since(t0); d > 5*time.Second {
					t.Logf("serve took %v to stop", d)
				}
			}()
			// A connection the client opened but never used counts as
			// busy for fasthttp until its header timeout: close them, so
			// the graceful shutdown does not wait for it.
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			cancel()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Error("serve did not stop")
			}
		})
	}
	t.Cleanup(s.stop)
	sc := bufio.NewScanner(pr)
	want := 1
	if env["S3_PROTOCOL_PORT"] != "" {
		want = 2
	}
	var urls []string
	for len(urls) < want && sc.Scan() {
		if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
			urls = append(urls, m[1])
		}
	}
	if len(urls) == want {
		s.url = urls[0]
		s.root = urls[want-1]
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain
	if s.url == "" {
		t.Fatalf("serve did not start: exit %v\n%s", <-done, s.logs.String())
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// s3Client is an aws-sdk-go-v2 client for endpoint that never retries, so
// that each call is exactly one request.
func s3Client(endpoint, key, secret, token string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(key, secret, token),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Retryer:                    aws.NopRetryer{},
		HTTPClient:                 &http.Client{Timeout: 60 * time.Second},
	})
}

// serviceS3 is the static key pair's client (service role).
func (s *liveServer) serviceS3() *s3.Client { return s3Client(s.url+"/s3", hS3Key, hS3Secret, "") }

// jwtFor mints a token with the harness secret.
func jwtFor(t testing.TB, role, sub string) string {
	t.Helper()
	v, err := auth.New(auth.Options{Secret: []byte(hJWTSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Sign(claims(role, sub, time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// restCall is one REST request and its answer.
type restCall struct {
	status int
	body   []byte
	header http.Header
}

// code returns the "code" of a REST error body, or "".
func (r restCall) code() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

// statusCode returns the body's statusCode of a REST error (the real
// status, where the wire says 400), or the HTTP status.
func (r restCall) statusCode() string {
	var e struct {
		StatusCode json.RawMessage `json:"statusCode"`
	}
	if json.Unmarshal(r.body, &e) == nil && len(e.StatusCode) > 0 {
		return strings.Trim(string(e.StatusCode), `"`)
	}
	return fmt.Sprint(r.status)
}

// rest sends one REST request; token "" sends no Authorization.
func rest(client *http.Client, method, u, token string, body io.Reader, header map[string]string) (restCall, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return restCall{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return restCall{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return restCall{}, err
	}
	return restCall{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

// objectPath is the URL path of bucket/key below a REST route, each key
// segment escaped.
func objectPath(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
