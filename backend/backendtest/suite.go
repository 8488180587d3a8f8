package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/supagate/storage/backend"
)

// Run runs the contract suite. newBackend is called once per subtest and
// must return an empty backend of its own; subtests run in parallel.
//
// The 1 GiB streaming cases are skipped under -short.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, b backend.Backend)
	}{
		{"put and get round trip", testRoundTrip},
		{"overwrite is atomic", testOverwriteAtomic},
		{"head describes the object", testHead},
		{"get of a missing key is ErrNotExist", testGetMissing},
		{"head of a missing key is ErrNotExist", testHeadMissing},
		{"delete of a missing key is fine", testDeleteMissing},
		{"delete removes many keys", testDeleteMany},
		{"ranges", testRanges},
		{"copy duplicates the object", testCopy},
		{"copy of a missing key is ErrNotExist", testCopyMissing},
		{"multipart assembles parts in order", testMultipart},
		{"multipart part upload replaces an earlier one", testMultipartReplacePart},
		{"multipart with a wrong part is ErrPrecondition", testMultipartWrongPart},
		{"abort discards the upload", testAbort},
		{"abort of an unknown upload is ErrNotExist", testAbortUnknown},
		{"concurrent puts to one key end with one complete version", testConcurrentPuts},
		{"failing body leaves no object", testFailingBody},
		{"body of the wrong size leaves no object", testWrongSize},
		{"content md5 is checked", testContentMD5},
		{"canceled context stores nothing", testCanceled},
		{"key shapes", testKeyShapes},
		{"list finds what was put", testList},
		{"one gibibyte streams through", testStreamGiB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newBackend(t))
		})
	}
}

// put stores data under key and fails the test on error.
func put(t *testing.T, b backend.Backend, key string, data []byte, o backend.PutOptions) backend.Info {
	t.Helper()
	info, err := b.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

// get reads the whole object (or range) and fails the test on error.
func get(t *testing.T, b backend.Backend, key string, rng *backend.Range) ([]byte, backend.Info) {
	t.Helper()
	r, info, err := b.Get(context.Background(), key, rng)
	if err != nil {
		t.Fatalf("Get(%q, %+v): %v", key, rng, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return data, info
}

// wantGone fails the test unless Head reports key missing.
func wantGone(t *testing.T, b backend.Backend, key string) {
	t.Helper()
	if _, err := b.Head(context.Background(), key); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Head(%q) = %v, want ErrNotExist", key, err)
	}
}

// wantBytes fails the test unless key holds exactly want.
func wantBytes(t *testing.T, b backend.Backend, key string, want []byte) {
	t.Helper()
	got, _ := get(t, b, key, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes (md5 %s), want %d bytes (md5 %s)", key, len(got), md5hex(got), len(want), md5hex(want))
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// etagOf is the quoted MD5 ETag of b.
func etagOf(b []byte) string { return `"` + md5hex(b) + `"` }

// randomBytes returns n deterministic pseudo-random bytes for seed.
func randomBytes(t *testing.T, seed uint64, n int) []byte {
	t.Helper()
	b, err := io.ReadAll(NewPatternReader(seed, int64(n)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
