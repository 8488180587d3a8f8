package s3store

import (
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/backendtest"
)

// sink is a minimal S3 endpoint that hashes and discards every body, so a
// test can watch the Store's own memory, and records part copies.
type sink struct {
	size int64 // Content-Length that HEAD reports

	mu      sync.Mutex
	ranges  map[string]bool // CopySourceRange of each part copy
	sources map[string]bool // x-amz-copy-source values
	ifMatch map[string]bool // x-amz-copy-source-if-match values
	got     int64           // body bytes received
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Length", strconv.FormatInt(k.size, 10))
		w.Header().Set("ETag", `"source-etag"`)
		w.Header().Set("Content-Type", "application/x-test")
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		fmt.Fprint(w, `<CompleteMultipartUploadResult><ETag>"done-1"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		k.mu.Lock()
		k.ranges[r.Header.Get("X-Amz-Copy-Source-Range")] = true
		k.sources[r.Header.Get("X-Amz-Copy-Source")] = true
		k.ifMatch[r.Header.Get("X-Amz-Copy-Source-If-Match")] = true
		k.mu.Unlock()
		fmt.Fprint(w, `<CopyPartResult><ETag>"part"</ETag></CopyPartResult>`)
	case r.Method == http.MethodPut:
		h := md5.New()
		n, _ := io.Copy(h, r.Body)
		k.mu.Lock()
		k.got += n
		k.mu.Unlock()
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, h.Sum(nil)))
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unexpected request", http.StatusNotImplemented)
	}
}

func newSink(t *testing.T, size int64) (*sink, *Store) {
	t.Helper()
	k := &sink{size: size, ranges: map[string]bool{}, sources: map[string]bool{}, ifMatch: map[string]bool{}}
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)
	return k, newStore(t, srv.URL)
}

func TestPutGiBInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB streaming is skipped in -short mode")
	}
	const gib = 1 << 30
	// PartSize × Concurrency is 10 MiB of buffers.
	const limit = 32 << 20
	tests := []struct {
		name string
		size int64
	}{
		{name: "known size", size: gib},
		{name: "unknown size", size: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, s := newSink(t, 0)
			var err error
			grew := backendtest.PeakHeap(func() {
				_, err = s.Put(context.Background(), "big", backendtest.NewPatternReader(1, gib), tt.size, backend.PutOptions{})
			})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if k.got != gib {
				t.Errorf("sink got %d bytes, want %d", k.got, gib)
			}
			t.Logf("heap grew by %d MiB at most", grew>>20)
			if grew > limit {
				t.Errorf("heap grew by %d MiB while putting 1 GiB, want under %d MiB", grew>>20, limit>>20)
			}
		})
	}
}

func TestCopyLargeObjectInParts(t *testing.T) {
	const mib = 1 << 20
	k, s := newSink(t, 25*mib)
	s.copyLimit, s.copyPartSize = 10*mib, 10*mib
	info, err := s.Copy(context.Background(), "src+x/y z", "dst")
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if info.Size != 25*mib || info.ETag != `"done-1"` || info.ContentType != "application/x-test" {
		t.Errorf("Copy = %+v", info)
	}
	wantRanges := map[string]bool{
		fmt.Sprintf("bytes=0-%d", 10*mib-1):          true,
		fmt.Sprintf("bytes=%d-%d", 10*mib, 20*mib-1): true,
		fmt.Sprintf("bytes=%d-%d", 20*mib, 25*mib-1): true,
	}
	if len(k.ranges) != len(wantRanges) {
		t.Errorf("copied ranges %v, want %v", k.ranges, wantRanges)
	}
	for r := range wantRanges {
		if !k.ranges[r] {
			t.Errorf("range %s not copied; copied %v", r, k.ranges)
		}
	}
	if !k.sources[testBucket+"/src%2Bx/y%20z"] || len(k.sources) != 1 {
		t.Errorf("copy sources %v, want %s/src%%2Bx/y%%20z", k.sources, testBucket)
	}
	if !k.ifMatch[`"source-etag"`] || len(k.ifMatch) != 1 {
		t.Errorf("copy if-match %v, want the source ETag", k.ifMatch)
	}
}
