package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/supagate/storage/backend"
)

// Fault names what the fault-injecting handler does to the requests it
// picks.
type fault string

const (
	healthy    fault = ""
	fail500    fault = "500"       // answer 500 InternalError
	stall      fault = "stall"     // send nothing for longer than the store waits
	cutBody    fault = "cut"       // close the connection halfway through a body (either way)
	stallBody  fault = "stallbody" // send half a response body, then nothing
	wrongETags fault = "etag"      // answer success with an ETag that is not the body's MD5
)

// faultInjector sits in front of gofakes3 and breaks the requests that
// match while a fault is set.
type faultInjector struct {
	mu    sync.Mutex
	f     fault
	match func(*http.Request) bool
	hits  int
}

func (fi *faultInjector) set(f fault, match func(*http.Request) bool) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.f, fi.match, fi.hits = f, match, 0
}

func (fi *faultInjector) current(r *http.Request) fault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.f == healthy || (fi.match != nil && !fi.match(r)) {
		return healthy
	}
	fi.hits++
	return fi.f
}

func (fi *faultInjector) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch fi.current(r) {
		case healthy:
			h.ServeHTTP(w, r)
		case fail500:
			io.Copy(io.Discard, r.Body) //nolint:errcheck
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`) //nolint:errcheck
		case stall:
			io.Copy(io.Discard, r.Body) //nolint:errcheck
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case cutBody:
			if r.ContentLength > 0 {
				io.CopyN(io.Discard, r.Body, r.ContentLength/2) //nolint:errcheck
				hijackClose(w)
				return
			}
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status())
			w.Write(rec.body.Bytes()[:rec.body.Len()/2]) //nolint:errcheck
			w.(http.Flusher).Flush()
			hijackClose(w)
		case stallBody:
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status())
			w.Write(rec.body.Bytes()[:rec.body.Len()/2]) //nolint:errcheck
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case wrongETags:
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			if w.Header().Get("ETag") != "" {
				w.Header().Set("ETag", `"00000000000000000000000000000000"`)
			}
			w.WriteHeader(rec.status())
			w.Write(rec.body.Bytes()) //nolint:errcheck
		}
	})
}

func hijackClose(w http.ResponseWriter) {
	if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
		c.Close()
	}
}

// recorder keeps a response in memory.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func isPut(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == ""
}
func isGet(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" && !r.URL.Query().Has("uploads")
}
func isCopy(r *http.Request) bool { return r.Header.Get("X-Amz-Copy-Source") != "" }
func isDelete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("delete")
}
func isPart(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
}
func isComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}
func isSmallPut(r *http.Request) bool { return isPut(r) && !r.URL.Query().Has("partNumber") }

// faultyStore is a Store over gofakes3 behind a fault injector, waiting at
// most timeout for the service.
func faultyStore(t *testing.T, timeout time.Duration) (*Store, *faultInjector) {
	t.Helper()
	fi := &faultInjector{}
	srv := newFake(t, fi.wrap)
	s, err := New(context.Background(), Options{
		Bucket: testBucket, Endpoint: srv.URL, Region: "us-east-1", ForcePathStyle: true,
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		PartSize: MinPartSize, Concurrency: 2, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, fi
}

// TestBackendFaults breaks the S3 service in the ways it breaks in
// production and checks the store's promise: the call fails (never hangs,
// never succeeds with the wrong bytes), nothing new is visible under the
// key, what was there before is intact, and the same call works once the
// fault stops.
func TestBackendFaults(t *testing.T) {
	ctx := context.Background()
	small := bytes.Repeat([]byte("small body "), 1000)
	large := bytes.Repeat([]byte("0123456789abcdef"), (2*MinPartSize+100)/16)
	tests := []struct {
		name  string
		f     fault
		match func(*http.Request) bool
		op    func(s *Store) error
		key   string // the key the op writes, checked for leftovers; "" for reads
	}{
		{name: "a put answered 500", f: fail500, match: isSmallPut, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", small) }},
		{name: "a put the service never answers", f: stall, match: isSmallPut, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", small) }},
		{name: "a put whose connection breaks mid-body", f: cutBody, match: isSmallPut, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", small) }},
		{name: "a put answered with a wrong ETag", f: wrongETags, match: isSmallPut, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", small) }},
		{name: "a multipart put whose part is answered 500", f: fail500, match: isPart, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", large) }},
		{name: "a multipart put whose part never gets an answer", f: stall, match: isPart, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", large) }},
		{name: "a multipart put whose parts get wrong ETags", f: wrongETags, match: isPart, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", large) }},
		{name: "a multipart put whose completion is answered 500", f: fail500, match: isComplete, key: "new",
			op: func(s *Store) error { return put(ctx, s, "new", large) }},
		{name: "an upload part answered with a wrong ETag", f: wrongETags, match: isPart, key: "new",
			op: func(s *Store) error { return uploadOnePart(ctx, s, "new", small) }},
		{name: "a get answered 500", f: fail500, match: isGet,
			op: func(s *Store) error { return get(ctx, s, "old") }},
		{name: "a get whose body breaks off", f: cutBody, match: isGet,
			op: func(s *Store) error { return get(ctx, s, "old") }},
		{name: "a get whose body stalls", f: stallBody, match: isGet,
			op: func(s *Store) error { return get(ctx, s, "old") }},
		{name: "a get the service never answers", f: stall, match: isGet,
			op: func(s *Store) error { return get(ctx, s, "old") }},
		{name: "a copy answered 500", f: fail500, match: isCopy, key: "new",
			op: func(s *Store) error { _, err := s.Copy(ctx, "old", "new"); return err }},
		{name: "a delete answered 500", f: fail500, match: isDelete,
			op: func(s *Store) error { return s.Delete(ctx, "old") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, fi := faultyStore(t, 500*time.Millisecond)
			if err := put(ctx, s, "old", []byte("old bytes")); err != nil {
				t.Fatal(err)
			}
			fi.set(tt.f, tt.match)
			if err := tt.op(s); err == nil {
				t.Fatalf("the call succeeded under the fault (%d requests hit)", fi.hits)
			}
			if fi.hits == 0 {
				t.Fatal("the fault never applied")
			}
			fi.set(healthy, nil)
			if tt.key != "" {
				if _, err := s.Head(ctx, tt.key); !errors.Is(err, backend.ErrNotExist) {
					t.Errorf("after the failed call %q exists: %v", tt.key, err)
				}
				if n := openUploads(t, s); n != 0 {
					t.Errorf("%d multipart uploads left open", n)
				}
			}
			if got := read(t, s, "old"); got != "old bytes" {
				t.Errorf("the old object reads %q", got)
			}
			if err := tt.op(s); err != nil {
				t.Errorf("the same call after the fault: %v", err)
			}
		})
	}
}

func put(ctx context.Context, s *Store, key string, b []byte) error {
	info, err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), backend.PutOptions{})
	if err == nil && info.Size != int64(len(b)) {
		return errors.New("short put")
	}
	return err
}

// uploadOnePart runs a whole multipart upload of one part through the
// Backend methods, as meta does.
func uploadOnePart(ctx context.Context, s *Store, key string, b []byte) error {
	id, err := s.CreateMultipart(ctx, key, backend.PutOptions{})
	if err != nil {
		return err
	}
	p, err := s.UploadPart(ctx, key, id, 1, bytes.NewReader(b), int64(len(b)))
	if err == nil {
		_, err = s.CompleteMultipart(ctx, key, id, []backend.Part{p})
	}
	if err != nil {
		s.AbortMultipart(context.WithoutCancel(ctx), key, id) //nolint:errcheck // as meta's sweeper would
	}
	return err
}

// get reads key to the end, as a download does.
func get(ctx context.Context, s *Store, key string) error {
	r, info, err := s.Get(ctx, key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if err == nil && n != info.Size {
		return errors.New("short body without an error: " + strconv.FormatInt(n, 10))
	}
	return err
}

func read(t *testing.T, s *Store, key string) string {
	t.Helper()
	r, _, err := s.Get(context.Background(), key, nil)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return string(b)
}

func openUploads(t *testing.T, s *Store) int {
	t.Helper()
	out, err := s.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if errors.Is(mapErr(err), backend.ErrNotExist) {
		return 0 // gofakes3 answers NoSuchUpload when there is none
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}
