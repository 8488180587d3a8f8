package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/supagate/storage/backend"
)

// errBody is what failingReader returns.
var errBody = errors.New("backendtest: body failed")

// failingReader yields n pattern bytes, then errBody.
type failingReader struct {
	r io.Reader
}

func newFailingReader(n int64) io.Reader {
	return &failingReader{r: NewPatternReader(42, n)}
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errBody
	}
	return n, err
}

func testFailingBody(t *testing.T, b backend.Backend) {
	tests := []struct {
		name    string
		failAt  int64
		size    int64
		replace bool // a previous version exists and must survive
	}{
		{name: "known size fails early", failAt: 64 << 10, size: 1 << 20},
		{name: "unknown size fails early", failAt: 64 << 10, size: -1},
		{name: "known size fails at once", failAt: 0, size: 1 << 20},
		{name: "large known size fails late", failAt: 12 << 20, size: 20 << 20},
		{name: "large unknown size fails late", failAt: 12 << 20, size: -1},
		{name: "previous version survives", failAt: 64 << 10, size: 1 << 20, replace: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("failing/%d", i)
			var old []byte
			if tt.replace {
				old = randomBytes(t, 5, 1000)
				put(t, b, key, old, backend.PutOptions{})
			}
			_, err := b.Put(context.Background(), key, newFailingReader(tt.failAt), tt.size, backend.PutOptions{})
			if !errors.Is(err, errBody) {
				t.Fatalf("Put = %v, want the body's error", err)
			}
			if tt.replace {
				wantBytes(t, b, key, old)
			} else {
				wantGone(t, b, key)
			}
		})
	}
}

func testWrongSize(t *testing.T, b backend.Backend) {
	tests := []struct {
		name string
		n    int
		size int64
	}{
		{name: "shorter than declared", n: 1000, size: 2000},
		{name: "longer than declared", n: 2000, size: 1000},
		{name: "longer than an empty declaration", n: 10, size: 0},
		{name: "empty but declared", n: 0, size: 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("wrong-size/%d", i)
			data := randomBytes(t, uint64(i), tt.n)
			if _, err := b.Put(context.Background(), key, bytes.NewReader(data), tt.size, backend.PutOptions{}); err == nil {
				t.Fatalf("Put of %d bytes declared %d succeeded", tt.n, tt.size)
			}
			wantGone(t, b, key)
		})
	}
}

func testContentMD5(t *testing.T, b backend.Backend) {
	small := randomBytes(t, 11, 100<<10)
	large := randomBytes(t, 12, 2*minPart+1) // several parts where a backend splits
	sum := func(d []byte) []byte { s := md5.Sum(d); return s[:] }
	wrong := sum([]byte("something else"))
	tests := []struct {
		name string
		data []byte
		size int64
		md5  []byte
		err  error
	}{
		{name: "matching md5 with known size", data: small, size: int64(len(small)), md5: sum(small)},
		{name: "matching md5 with unknown size", data: small, size: -1, md5: sum(small)},
		{name: "matching md5 over several parts", data: large, size: -1, md5: sum(large)},
		{name: "mismatched md5 with known size", data: small, size: int64(len(small)), md5: wrong, err: backend.ErrPrecondition},
		{name: "mismatched md5 with unknown size", data: small, size: -1, md5: wrong, err: backend.ErrPrecondition},
		{name: "mismatched md5 over several parts", data: large, size: int64(len(large)), md5: wrong, err: backend.ErrPrecondition},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("md5/%d", i)
			_, err := b.Put(context.Background(), key, bytes.NewReader(tt.data), tt.size, backend.PutOptions{MD5: tt.md5})
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Put = %v", err)
				}
				wantBytes(t, b, key, tt.data)
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Put = %v, want %v", err, tt.err)
			}
			wantGone(t, b, key)
		})
	}
}
