package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// faultServer is a server with short edge timeouts, so that slow clients
// are cut off within a test's time.
func faultServer(t *testing.T, extra map[string]string) *liveServer {
	t.Helper()
	env := map[string]string{"STORAGE_HEADER_TIMEOUT": "400ms", "STORAGE_IDLE_TIMEOUT": "400ms",
		"LOG_LEVEL": "debug", "UPLOAD_FILE_SIZE_LIMIT": "20000000"}
	for k, v := range extra {
		env[k] = v
	}
	s := startLive(t, env)
	if _, err := s.serviceS3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("f")}); err != nil {
		t.Fatal(err)
	}
	return s
}

// signedRequest is an S3 request signed with the static key, its body sent
// unsigned (as a streaming client sends it).
func signedRequest(t *testing.T, method, u string, body io.Reader, size int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: hS3Key, SecretAccessKey: hS3Secret},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// stallingBody sends n bytes, then blocks until the request is over.
type stallingBody struct {
	n    int
	done chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		k := min(len(p), b.n)
		clear(p[:k])
		b.n -= k
		return k, nil
	}
	<-b.done
	return 0, io.ErrUnexpectedEOF
}

// noRowNoBytes checks that key left nothing behind: no row, no bytes under
// its name, and, once the server let go of it, no temp file.
func (s *liveServer) noRowNoBytes(t *testing.T, bucket, key string) {
	t.Helper()
	_, err := s.serviceS3().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 404 {
		t.Errorf("%s/%s: head gives %v, want 404", bucket, key, err)
	}
	objects := filepath.Join(s.dir, "objects")
	if _, err := os.Stat(filepath.Join(objects, "stub", bucket, key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s/%s: bytes are left in the backend: %v", bucket, key, err)
	}
	waitFor(t, "the upload's temp file to go", func() bool {
		ents, err := os.ReadDir(filepath.Join(objects, ".tmp"))
		return err == nil && len(ents) == 0
	})
}

// waitFor polls cond until it holds; it fails the test after a generous
// bound (a hang, not a slow machine, is what it catches).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("timed out waiting for %s", what)
}

// noErrorsLogged fails when the server logged an error: client faults are
// the client's, never a server failure.
func (s *liveServer) noErrorsLogged(t *testing.T) {
	t.Helper()
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("the server logged an error: %s", l)
		}
	}
}

func TestSlowClientsAreCutOff(t *testing.T) {
	s := faultServer(t, nil)
	host := strings.TrimPrefix(s.url, "http://")
	token := jwtFor(t, "service_role", "")
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{name: "a client sending its headers slowly is cut off", run: func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go func() {
				if _, err := io.WriteString(conn, "GET /status HTTP/1.1\r\nHost: x\r\n"); err != nil {
					return
				}
				for i := 0; i < 1000; i++ {
					time.Sleep(50 * time.Millisecond)
					if _, err := io.WriteString(conn, "X-Slow: yes\r\n"); err != nil {
						return
					}
				}
			}()
			conn.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Errorf("status %d, want 408 or a closed connection", resp.StatusCode)
				}
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("the server kept the connection: %v", err)
			}
		}},
		{name: "an S3 upload that stalls mid-body gets RequestTimeout and leaves nothing", run: func(t *testing.T) {
			b := &stallingBody{n: 100 << 10, done: make(chan struct{})}
			defer close(b.done)
			req := signedRequest(t, http.MethodPut, s.url+"/s3/f/stalled-s3", b, 1<<20)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>RequestTimeout</Code>")) {
					t.Errorf("status %d %s, want 400 RequestTimeout", resp.StatusCode, body)
				}
			}
			s.noRowNoBytes(t, "f", "stalled-s3")
		}},
		{name: "a REST upload that stalls mid-body is refused and leaves nothing", run: func(t *testing.T) {
			b := &stallingBody{n: 100 << 10, done: make(chan struct{})}
			defer close(b.done)
			req, _ := http.NewRequest(http.MethodPost, s.url+"/object/f/stalled-rest", b)
			req.ContentLength = 1 << 20
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 || resp.StatusCode < 400 {
					t.Errorf("status %d %s, want a 4xx", resp.StatusCode, body)
				}
			}
			s.noRowNoBytes(t, "f", "stalled-rest")
		}},
		{name: "a client that goes away mid-upload leaves nothing", run: func(t *testing.T) {
			for _, front := range []string{"s3", "rest"} {
				key := "gone-" + front
				conn, err := net.Dial("tcp", host)
				if err != nil {
					t.Fatal(err)
				}
				var req *http.Request
				if front == "s3" {
					req = signedRequest(t, http.MethodPut, s.url+"/s3/f/"+key, nil, 1<<20)
				} else {
					req, _ = http.NewRequest(http.MethodPost, s.url+"/object/f/"+key, nil)
					req.Header.Set("Authorization", "Bearer "+token)
				}
				fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), host, 1<<20)
				for k, vs := range req.Header {
					fmt.Fprintf(conn, "%s: %s\r\n", k, vs[0])
				}
				io.WriteString(conn, "\r\n")                   //nolint:errcheck
				conn.Write(bytes.Repeat([]byte("x"), 300<<10)) //nolint:errcheck
				conn.Close()
				s.noRowNoBytes(t, "f", key)
			}
		}},
		{name: "a download the client stops reading is cut off", run: func(t *testing.T) {
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
			if _, err := s.serviceS3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("f"),
				Key: aws.String("big"), Body: bytes.NewReader(big), ContentLength: aws.Int64(int64(len(big)))}); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/object/f/big", "/s3/f/big"} {
				tr := &http.Transport{DialContext: smallBufferDial}
				req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
				if strings.HasPrefix(path, "/s3") {
					req = signedRequest(t, http.MethodGet, s.url+path, nil, 0)
				} else {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 {
					t.Fatalf("%s: status %d", path, resp.StatusCode)
				}
				if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1500 * time.Millisecond) // well past the idle timeout
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && n == int64(len(big))-1024 {
					t.Errorf("%s: the server kept sending to a client that stopped reading", path)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
	s.noErrorsLogged(t)
}

// smallBufferDial dials with a small receive buffer, so that a client that
// stops reading stops the sender soon.
func smallBufferDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) //nolint:errcheck
		})
	}}
	return d.DialContext(ctx, network, addr)
}

func TestEdgeLimits(t *testing.T) {
	s := faultServer(t, map[string]string{"UPLOAD_FILE_SIZE_LIMIT": "1000000", "STORAGE_IDLE_TIMEOUT": "10s",
		"S3_PROTOCOL_PORT": "0"})
	ctx := context.Background()
	svc := s.serviceS3()
	token := jwtFor(t, "service_role", "")
	up, err := svc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("f"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	manyParts := make([]types.CompletedPart, 10001)
	for i := range manyParts {
		manyParts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(`"0123456789abcdef0123456789abcdef"`)}
	}
	manyKeys := make([]types.ObjectIdentifier, 1001)
	for i := range manyKeys {
		manyKeys[i] = types.ObjectIdentifier{Key: aws.String(fmt.Sprint("k", i))}
	}
	s3Err := func(err error) string {
		var re *smithyhttp.ResponseError
		var ae interface{ ErrorCode() string }
		if errors.As(err, &re) && errors.As(err, &ae) {
			return fmt.Sprintf("%d %s", re.HTTPStatusCode(), ae.ErrorCode())
		}
		return fmt.Sprint(err)
	}
	hugeHeader := strings.Repeat("a", 40<<10)
	longPath := strings.Repeat("p/", 20<<10)
	tests := []struct {
		name string
		do   func() string // the answer: "<status> <code>"
		want string
	}{
		{name: "REST headers over 32 KiB", want: "431 InvalidRequest", do: func() string {
			r, err := rest(oneShot(), "GET", s.url+"/bucket", token, nil, map[string]string{"X-Big": hugeHeader})
			return restAnswer(r, err)
		}},
		// Where a request's headers are too large to read, its path is
		// unknown: below /s3 on the shared port the answer is the 431 of
		// the REST front, on S3's own port S3's error.
		{name: "S3 headers over 32 KiB on the shared port", want: "431 ", do: func() string {
			return rawS3Answer(http.MethodGet, s.url+"/s3/f/k", map[string]string{"X-Big": hugeHeader})
		}},
		{name: "S3 headers over 32 KiB on S3's port", want: "400 RequestHeaderSectionTooLarge", do: func() string {
			return rawS3Answer(http.MethodGet, s.root+"/f/k", map[string]string{"X-Big": hugeHeader})
		}},
		{name: "a REST URL over 32 KiB", want: "431 InvalidRequest", do: func() string {
			r, err := rest(oneShot(), "GET", s.url+"/object/f/"+longPath, token, nil, nil)
			return restAnswer(r, err)
		}},
		{name: "an S3 URL over 32 KiB", want: "400 RequestHeaderSectionTooLarge", do: func() string {
			return rawS3Answer(http.MethodGet, s.root+"/f/"+longPath, nil)
		}},
		{name: "an S3 key over 1024 bytes", want: "400 KeyTooLongError", do: func() string {
			_, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("f"), Key: aws.String(strings.Repeat("k", 1025)),
				Body: strings.NewReader("x"), ContentLength: aws.Int64(1)})
			return s3Err(err)
		}},
		{name: "a REST key over 1024 bytes", want: "400 InvalidKey", do: func() string {
			r, err := rest(http.DefaultClient, "POST", s.url+"/object/f/"+strings.Repeat("k", 1025), token, strings.NewReader("x"), nil)
			return restAnswer(r, err)
		}},
		{name: "a REST JSON body over 1 MiB", want: "400 EntityTooLarge", do: func() string {
			body := `{"name":"x","allowed_mime_types":["` + strings.Repeat("a", 2<<20) + `"]}`
			r, err := rest(http.DefaultClient, "POST", s.url+"/bucket", token, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
			return restAnswer(r, err)
		}},
		// As the reference: a REST bulk delete is cut into batches; only
		// its body size bounds it.
		{name: "a REST bulk delete of 1001 keys", want: "200 ", do: func() string {
			r, err := rest(http.DefaultClient, "DELETE", s.url+"/object/f", token, strings.NewReader(`{"prefixes":[`+manyJSON(1001)+`]}`),
				map[string]string{"Content-Type": "application/json"})
			return restAnswer(r, err)
		}},
		{name: "a REST bulk delete body over 1 MiB", want: "400 EntityTooLarge", do: func() string {
			r, err := rest(http.DefaultClient, "DELETE", s.url+"/object/f", token, strings.NewReader(`{"prefixes":[`+manyJSON(150000)+`]}`),
				map[string]string{"Content-Type": "application/json"})
			return restAnswer(r, err)
		}},
		{name: "signing 1001 URLs at once", want: "400 InvalidRequest", do: func() string {
			r, err := rest(http.DefaultClient, "POST", s.url+"/object/sign/f", token, strings.NewReader(`{"expiresIn":60,"paths":[`+manyJSON(1001)+`]}`),
				map[string]string{"Content-Type": "application/json"})
			return restAnswer(r, err)
		}},
		{name: "DeleteObjects with 1001 keys", want: "400 MalformedXML", do: func() string {
			_, err := svc.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("f"), Delete: &types.Delete{Objects: manyKeys}})
			return s3Err(err)
		}},
		{name: "a DeleteObjects body over 2 MiB", want: "400 InvalidRequest", do: func() string {
			body := "<Delete><Object><Key>k</Key></Object>" + strings.Repeat(" ", 3<<20) + "</Delete>"
			req := signedRequest(t, http.MethodPost, s.url+"/s3/f?delete", strings.NewReader(body), int64(len(body)))
			return s3Answer(req)
		}},
		{name: "a multipart upload of 10001 parts", want: "400 MalformedXML", do: func() string {
			_, err := svc.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("f"), Key: aws.String("mp"),
				UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: manyParts}})
			return s3Err(err)
		}},
		{name: "part number 10001", want: "400 InvalidArgument", do: func() string {
			_, err := svc.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("f"), Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(10001), Body: strings.NewReader("x"), ContentLength: aws.Int64(1)})
			return s3Err(err)
		}},
		{name: "an S3 object over the size limit", want: "400 EntityTooLarge", do: func() string {
			b := make([]byte, 1000001)
			_, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("f"), Key: aws.String("too-big"),
				Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
			return s3Err(err)
		}},
		{name: "a chunked REST upload over the size limit", want: "400 EntityTooLarge", do: func() string {
			r, err := rest(http.DefaultClient, "POST", s.url+"/object/f/too-big-chunked", token,
				io.MultiReader(bytes.NewReader(make([]byte, 1000001))), nil)
			return restAnswer(r, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(); got != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
	for _, k := range []string{"too-big", "too-big-chunked"} {
		s.noRowNoBytes(t, "f", k)
	}
	s.noErrorsLogged(t)
}

// restAnswer is "<HTTP status> <code>" of a REST answer.
func restAnswer(r restCall, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, r.code())
}

// rawS3Answer sends an unsigned request (refused at the edge before any
// signature is looked at) and returns "<status> <S3 code>".
func rawS3Answer(method, u string, header map[string]string) string {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return err.Error()
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return s3Answer(req)
}

// s3Answer sends req on a connection of its own and returns
// "<status> <S3 code>".
func s3Answer(req *http.Request) string {
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	code := ""
	if i := bytes.Index(b, []byte("<Code>")); i >= 0 {
		code = string(b[i+6:])
		code = code[:strings.Index(code, "<")]
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, code)
}

// oneShot is an HTTP client that uses each connection once.
func oneShot() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestUnreadBodyIsNeverARequest sends requests that are refused before
// their body is read, with a second request hidden past the first 8 KiB
// of the body (what fasthttp reads ahead). That tail must never be served
// as a request of its own: behind a proxy that reuses connections, it
// would be answered to the next client (request smuggling).
func TestUnreadBodyIsNeverARequest(t *testing.T) {
	s := faultServer(t, nil)
	host := strings.TrimPrefix(s.url, "http://")
	smuggled := "GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
	body := strings.Repeat("x", 8<<10) + smuggled // fasthttp reads 8 KiB ahead
	tests := []struct {
		name, head string
	}{
		{name: "an S3 upload with a bad signature",
			head: "PUT /s3/f/k HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" + hS3Key + "/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n"},
		{name: "a REST upload without a token", head: "POST /object/f/k HTTP/1.1\r\n"},
		{name: "a REST upload to a bad key", head: "POST /object/f/a/../b HTTP/1.1\r\nAuthorization: Bearer " + jwtFor(t, "service_role", "") + "\r\n"},
		{name: "a REST JSON body over the limit", head: "POST /bucket HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer " + jwtFor(t, "service_role", "") + "\r\n"},
		{name: "a chunked S3 upload with a bad signature",
			head: "PUT /s3/f/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" + hS3Key + "/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			b := body
			if tt.name == "a REST JSON body over the limit" {
				b = `{"name":"` + strings.Repeat("x", 1<<20) + `"}` + strings.Repeat(" ", 16<<10) + smuggled
			}
			req := tt.head + "Host: " + host + "\r\n"
			if strings.Contains(tt.head, "chunked") {
				req += "\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(b), b)
			} else {
				req += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(b), b)
			}
			go io.WriteString(conn, req) //nolint:errcheck // the server may close early
			br := bufio.NewReader(conn)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
			first, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			io.Copy(io.Discard, first.Body) //nolint:errcheck
			first.Body.Close()
			if first.StatusCode < 400 || first.StatusCode >= 500 {
				t.Errorf("first answer %d, want a 4xx", first.StatusCode)
			}
			conn.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck
			if second, err := http.ReadResponse(br, nil); err == nil {
				v, _ := io.ReadAll(second.Body)
				t.Errorf("the body's tail was served as a request: %d %q", second.StatusCode, v)
			}
		})
	}
}

// manyJSON is n distinct JSON strings, comma-separated.
func manyJSON(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d"`, i)
	}
	return strings.Join(parts, ",")
}
