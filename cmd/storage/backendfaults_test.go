package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// backendFault is what the S3 service in front of gofakes3 does to the
// requests it picks.
type backendFault string

const (
	bfNone  backendFault = ""
	bf500   backendFault = "500"   // InternalError
	bfStall backendFault = "stall" // no answer for longer than the server waits
	bfCut   backendFault = "cut"   // the connection closes halfway through a body
	bfETag  backendFault = "etag"  // success with an ETag that is not the MD5 sent
)

// faultyS3 is gofakes3 behind a fault injector.
type faultyS3 struct {
	mu    sync.Mutex
	f     backendFault
	match func(*http.Request) bool
	hits  int
	srv   *httptest.Server
}

func newFaultyS3(t *testing.T, bucket string) *faultyS3 {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f := &faultyS3{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(h, w, r) }))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *faultyS3) set(bf backendFault, match func(*http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.f, f.match, f.hits = bf, match, 0
}

func (f *faultyS3) hit(r *http.Request) backendFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == bfNone || !f.match(r) {
		return bfNone
	}
	f.hits++
	return f.f
}

func (f *faultyS3) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	switch f.hit(r) {
	case bfNone:
		h.ServeHTTP(w, r)
	case bf500:
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		w.WriteHeader(500)
		io.WriteString(w, `<Error><Code>InternalError</Code><Message>injected</Message></Error>`) //nolint:errcheck
	case bfStall:
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case bfCut:
		if r.ContentLength > 0 {
			io.CopyN(io.Discard, r.Body, r.ContentLength/2) //nolint:errcheck
		} else {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes()[:rec.Body.Len()/2]) //nolint:errcheck
			w.(http.Flusher).Flush()
		}
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	case bfETag:
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if w.Header().Get("ETag") != "" {
			w.Header().Set("ETag", `"00000000000000000000000000000000"`)
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()) //nolint:errcheck
	}
}

func backendPut(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == ""
}
func backendGet(r *http.Request) bool {
	return r.Method == http.MethodGet && !r.URL.Query().Has("list-type")
}
func backendCopy(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
}
func backendComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// TestBackendFaultsThroughTheServer runs the server on the S3 backend and
// breaks that backend: clients get a clean 5xx in their front's format,
// the database keeps what it had, nothing half-written is visible, and
// the same request works once the backend is well again.
func TestBackendFaultsThroughTheServer(t *testing.T) {
	const bucket = "backend-bucket"
	fs3 := newFaultyS3(t, bucket)
	s := startLive(t, map[string]string{"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": bucket,
		"STORAGE_S3_ENDPOINT": fs3.srv.URL, "STORAGE_S3_FORCE_PATH_STYLE": "true", "STORAGE_S3_REGION": "us-east-1",
		"STORAGE_S3_ACCESS_KEY_ID": "AKIAFAKE", "STORAGE_S3_SECRET_ACCESS_KEY": "fake-secret",
		"STORAGE_S3_TIMEOUT": "500ms", "LOG_LEVEL": "debug"})
	ctx := context.Background()
	svc := s.serviceS3()
	token := jwtFor(t, "service_role", "")
	if _, err := svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("backend fault "), 2000)
	s3put := func(key string) func() answer {
		return func() answer {
			_, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			return s3Answer2(err)
		}
	}
	restPut := func(method, key string) func() answer {
		return func() answer {
			r, err := rest(http.DefaultClient, method, s.url+"/object/b/"+key, token, bytes.NewReader(body),
				map[string]string{"Content-Type": "text/plain"})
			return restAnswer2(r, err)
		}
	}
	tests := []struct {
		name  string
		f     backendFault
		match func(*http.Request) bool
		do    func() answer
		key   string // written by the request: must not exist after the fault
	}{
		{name: "an S3 put to a failing backend", f: bf500, match: backendPut, do: s3put("new"), key: "new"},
		{name: "an S3 put to a stalled backend", f: bfStall, match: backendPut, do: s3put("new"), key: "new"},
		{name: "an S3 put whose backend connection breaks", f: bfCut, match: backendPut, do: s3put("new"), key: "new"},
		{name: "an S3 put the backend stores wrongly", f: bfETag, match: backendPut, do: s3put("new"), key: "new"},
		{name: "an S3 overwrite to a failing backend", f: bf500, match: backendPut, do: s3put("old")},
		{name: "a REST upload to a failing backend", f: bf500, match: backendPut, do: restPut("POST", "new"), key: "new"},
		{name: "a REST upload to a stalled backend", f: bfStall, match: backendPut, do: restPut("POST", "new"), key: "new"},
		{name: "a REST upsert the backend stores wrongly", f: bfETag, match: backendPut, do: restPut("PUT", "old")},
		{name: "an S3 multipart completion the backend fails", f: bf500, match: backendComplete, key: "new", do: func() answer {
			up, err := svc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("b"), Key: aws.String("new")})
			if err != nil {
				return s3Answer2(err)
			}
			p, err := svc.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("b"), Key: aws.String("new"), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			if err != nil {
				return s3Answer2(err)
			}
			_, err = svc.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("b"), Key: aws.String("new"),
				UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: p.ETag, PartNumber: aws.Int32(1)}}}})
			return s3Answer2(err)
		}},
		{name: "an S3 copy the backend fails", f: bf500, match: backendCopy, key: "new", do: func() answer {
			_, err := svc.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("new"), CopySource: aws.String("b/old")})
			return s3Answer2(err)
		}},
		{name: "a REST move the backend fails", f: bf500, match: backendCopy, key: "new", do: func() answer {
			r, err := rest(http.DefaultClient, "POST", s.url+"/object/move", token,
				strings.NewReader(`{"bucketId":"b","sourceKey":"old","destinationKey":"new"}`), map[string]string{"Content-Type": "application/json"})
			return restAnswer2(r, err)
		}},
		{name: "an S3 get from a failing backend", f: bf500, match: backendGet, do: func() answer {
			_, err := svc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("old")})
			return s3Answer2(err)
		}},
		{name: "a REST download from a stalled backend", f: bfStall, match: backendGet, do: func() answer {
			r, err := rest(http.DefaultClient, "GET", s.url+"/object/b/old", token, nil, nil)
			return restAnswer2(r, err)
		}},
		{name: "an S3 get whose backend body breaks off", f: bfCut, match: backendGet, do: func() answer {
			out, err := svc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("old")})
			if err != nil {
				return s3Answer2(err)
			}
			defer out.Body.Close()
			if b, err := io.ReadAll(out.Body); err != nil || !bytes.Equal(b, body) {
				return answer{broken: true}
			}
			return answer{status: 200}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs3.set(bfNone, nil)
			if a := s3put("old")(); a.status != 200 {
				t.Fatalf("setting up: %+v", a)
			}
			rest(http.DefaultClient, "DELETE", s.url+"/object/b/new", token, nil, nil) //nolint:errcheck
			fs3.set(tt.f, tt.match)
			a := tt.do()
			hits := fs3.hits
			fs3.set(bfNone, nil)
			if hits == 0 {
				t.Fatal("the fault never applied")
			}
			switch {
			case a.broken: // headers were sent before the backend broke: the client must see it
			case a.status < 500 || a.status > 599:
				t.Errorf("answer %+v, want a 5xx", a)
			case !a.format:
				t.Errorf("the 5xx is not in the front's error format: %+v", a)
			}
			if got := readS3(t, svc, "old"); !bytes.Equal(got, body) {
				t.Errorf("the old object changed: %d bytes", len(got))
			}
			if tt.key != "" {
				if _, err := svc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String(tt.key)}); !isStatus(err, 404) {
					t.Errorf("%s is visible after the failed request: %v", tt.key, err)
				}
			}
			if a := tt.do(); a.status != 200 {
				t.Errorf("the same request once the backend is well: %+v", a)
			}
		})
	}
	s.noErrorsLoggedExcept(t, "s3store: ")
}

// answer is what a client saw: a status, whether the error body was in
// the front's format, or a body that broke off.
type answer struct {
	status int
	format bool
	broken bool
	detail string
}

func s3Answer2(err error) answer {
	if err == nil {
		return answer{status: 200}
	}
	var re *smithyhttp.ResponseError
	var ae interface{ ErrorCode() string }
	if errors.As(err, &re) {
		return answer{status: re.HTTPStatusCode(), format: errors.As(err, &ae) && ae.ErrorCode() != "", detail: err.Error()}
	}
	return answer{broken: true, detail: err.Error()}
}

func restAnswer2(r restCall, err error) answer {
	if err != nil {
		return answer{broken: true, detail: err.Error()}
	}
	a := answer{status: r.status, detail: string(r.body)}
	if r.status == 400 && r.statusCode() != "" && r.statusCode() != "400" {
		a.status = 0
		for _, c := range r.statusCode() {
			a.status = a.status*10 + int(c-'0')
		}
	}
	a.format = r.code() != ""
	if r.status < 300 {
		a.status = 200
	}
	return a
}

func readS3(t *testing.T, svc *s3.Client, key string) []byte {
	t.Helper()
	out, err := svc.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func isStatus(err error, status int) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}
