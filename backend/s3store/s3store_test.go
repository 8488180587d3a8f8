package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/backendtest"
)

const testBucket = "test-bucket"

// newFake starts an in-process gofakes3 server over plain HTTP with the
// test bucket. wrap, when not nil, sees every request first.
func newFake(t *testing.T, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newStore returns a Store on url with the smallest part size S3 allows, so
// that multipart paths run on small bodies.
func newStore(t *testing.T, url string) *Store {
	t.Helper()
	s, err := New(context.Background(), Options{
		Bucket:          testBucket,
		Endpoint:        url,
		Region:          "us-east-1",
		ForcePathStyle:  true,
		AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		PartSize:        MinPartSize,
		Concurrency:     2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newStore(t, newFake(t, nil).URL)
	})
}

// requestLog counts requests by a short operation name.
type requestLog struct {
	puts, parts, creates, unsigned atomic.Int32
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			l.creates.Add(1)
		case r.Method == http.MethodPut && q.Has("partNumber"):
			l.parts.Add(1)
		case r.Method == http.MethodPut:
			l.puts.Add(1)
		}
		if r.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
			l.unsigned.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// oneByteReader hides every interface but io.Reader, so nothing can seek.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestPutChoosesRequests(t *testing.T) {
	tests := []struct {
		name                 string
		n                    int
		size                 int64
		puts, parts, creates int32
		wantUnsignedAtLeast  int32
	}{
		{name: "known size streams in one unsigned put", n: 1 << 20, size: 1 << 20, puts: 1, wantUnsignedAtLeast: 1},
		{name: "known size of exactly one part", n: MinPartSize, size: MinPartSize, puts: 1, wantUnsignedAtLeast: 1},
		{name: "unknown size that fits one part", n: 1 << 20, size: -1, puts: 1},
		{name: "unknown size of exactly one part", n: MinPartSize, size: -1, creates: 1, parts: 1},
		{name: "known size over one part", n: 2*MinPartSize + 1, size: 2*MinPartSize + 1, creates: 1, parts: 3},
		{name: "unknown size over one part", n: 2*MinPartSize + 1, size: -1, creates: 1, parts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log requestLog
			s := newStore(t, newFake(t, log.wrap).URL)
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.n/16+1)[:tt.n]
			info, err := s.Put(context.Background(), "k", oneByteReader{bytes.NewReader(data)}, tt.size, backend.PutOptions{})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != int64(tt.n) {
				t.Errorf("Put size = %d, want %d", info.Size, tt.n)
			}
			if log.puts.Load() != tt.puts || log.parts.Load() != tt.parts || log.creates.Load() != tt.creates {
				t.Errorf("requests: %d puts, %d parts, %d creates; want %d, %d, %d",
					log.puts.Load(), log.parts.Load(), log.creates.Load(), tt.puts, tt.parts, tt.creates)
			}
			if log.unsigned.Load() < tt.wantUnsignedAtLeast {
				t.Errorf("%d unsigned requests, want at least %d", log.unsigned.Load(), tt.wantUnsignedAtLeast)
			}
			r, _, err := s.Get(context.Background(), "k", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("Get = %d bytes, not what was put", len(got))
			}
		})
	}
}

func TestFailedMultipartPutIsAborted(t *testing.T) {
	var aborts atomic.Int32
	srv := newFake(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && r.URL.Query().Has("uploadId") {
				aborts.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	s := newStore(t, srv.URL)
	boom := errors.New("boom")
	body := io.MultiReader(bytes.NewReader(make([]byte, 3*MinPartSize)), iotestErr{boom})
	if _, err := s.Put(context.Background(), "k", body, -1, backend.PutOptions{}); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want boom", err)
	}
	if aborts.Load() != 1 {
		t.Errorf("%d aborts, want 1", aborts.Load())
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestUploadPartOfUnknownSize(t *testing.T) {
	s := newStore(t, newFake(t, nil).URL)
	ctx := context.Background()
	id, err := s.CreateMultipart(ctx, "k", backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, "k", id, 1, strings.NewReader("small part"), -1)
	if err != nil || p.Size != 10 {
		t.Fatalf("UploadPart = %+v, %v", p, err)
	}
	if _, err := s.UploadPart(ctx, "k", id, 2, bytes.NewReader(make([]byte, MinPartSize+1)), -1); err == nil {
		t.Error("UploadPart of unknown size over PartSize succeeded")
	}
	info, err := s.CompleteMultipart(ctx, "k", id, []backend.Part{p})
	if err != nil || info.Size != 10 {
		t.Fatalf("CompleteMultipart = %+v, %v", info, err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{name: "no bucket", o: Options{AccessKeyID: "k"}},
		{name: "part size too small", o: Options{Bucket: "b", AccessKeyID: "k", PartSize: 1 << 20}},
		{name: "negative concurrency", o: Options{Bucket: "b", AccessKeyID: "k", Concurrency: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(context.Background(), tt.o); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func TestRangeHeader(t *testing.T) {
	tests := []struct {
		name string
		r    backend.Range
		want string
		err  bool
	}{
		{name: "closed", r: backend.Range{Start: 1, End: 5}, want: "bytes=1-5"},
		{name: "open", r: backend.Range{Start: 7, End: -1}, want: "bytes=7-"},
		{name: "suffix", r: backend.Range{Start: 9, Suffix: true}, want: "bytes=-9"},
		{name: "empty suffix", r: backend.Range{Start: 0, Suffix: true}, err: true},
		{name: "end before start", r: backend.Range{Start: 5, End: 4}, err: true},
		{name: "negative start", r: backend.Range{Start: -1, End: 4}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rangeHeader(tt.r)
			if tt.err {
				if !errors.Is(err, backend.ErrInvalidRange) {
					t.Errorf("rangeHeader(%+v) = %q, %v; want ErrInvalidRange", tt.r, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("rangeHeader(%+v) = %q, %v; want %q", tt.r, got, err, tt.want)
			}
		})
	}
}

func TestPutOverTLS(t *testing.T) {
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	s, err := New(context.Background(), Options{
		Bucket: testBucket, Endpoint: srv.URL, ForcePathStyle: true,
		AccessKeyID: "key", SecretAccessKey: "secret",
		PartSize: MinPartSize, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    int
		size int64
	}{
		{name: "streamed known size", n: 1 << 20, size: 1 << 20},
		{name: "multipart unknown size", n: MinPartSize + 10, size: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("tls!"), tt.n/4+1)[:tt.n]
			if _, err := s.Put(context.Background(), tt.name, oneByteReader{bytes.NewReader(data)}, tt.size, backend.PutOptions{}); err != nil {
				t.Fatalf("Put: %v", err)
			}
			r, _, err := s.Get(context.Background(), tt.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("Get = %d bytes, not what was put", len(got))
			}
		})
	}
}
