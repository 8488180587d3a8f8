package backendtest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
)

const gib = 1 << 30

// NewPatternReader returns a reader of n deterministic pseudo-random bytes
// for seed (ChaCha8), generated on the fly: a long stream costs no memory.
func NewPatternReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// PeakHeap runs fn and returns by how much HeapInuse grew over its value
// before fn, at the highest of samples taken every few milliseconds. Run it
// outside parallel tests, or their allocations count too.
func PeakHeap(fn func()) uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapInuse
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak - base
}

// PutGetStream stores n pattern bytes for seed under key (declaring size,
// which is n or -1), reads them back, and fails the test unless the SHA-256
// of what was read equals that of what was written. Neither side holds the
// object in memory.
func PutGetStream(t *testing.T, b backend.Backend, key string, seed uint64, n, size int64) {
	t.Helper()
	ctx := context.Background()
	sent := sha256.New()
	info, err := b.Put(ctx, key, io.TeeReader(NewPatternReader(seed, n), sent), size, backend.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, n, err)
	}
	if info.Size != n {
		t.Errorf("Put size = %d, want %d", info.Size, n)
	}
	r, ginfo, err := b.Get(ctx, key, nil)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	got := sha256.New()
	m, err := io.Copy(got, r)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if m != n || ginfo.Size != n {
		t.Errorf("Get = %d bytes, info size %d, want %d", m, ginfo.Size, n)
	}
	if string(got.Sum(nil)) != string(sent.Sum(nil)) {
		t.Fatalf("Get(%q): SHA-256 differs from what was put", key)
	}
}

func testStreamGiB(t *testing.T, b backend.Backend) {
	if testing.Short() {
		t.Skip("1 GiB streaming is skipped in -short mode")
	}
	tests := []struct {
		name string
		size int64
	}{
		{name: "known size", size: gib},
		{name: "unknown size", size: -1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "stream/" + tt.name
			PutGetStream(t, b, key, uint64(i), gib, tt.size)
			if err := b.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		})
	}
}
