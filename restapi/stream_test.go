package restapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/meta/metatest"
)

// heapWatch samples the live heap until stopped and reports the largest
// growth over the baseline taken at start (after a GC).
type heapWatch struct {
	base, peak uint64
	stop       chan struct{}
	wg         sync.WaitGroup
}

func watchHeap() *heapWatch {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	w := &heapWatch{base: m.HeapInuse, peak: m.HeapInuse, stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				w.peak = max(w.peak, m.HeapInuse)
			}
		}
	}()
	return w
}

func (w *heapWatch) growth() uint64 {
	close(w.stop)
	w.wg.Wait()
	return w.peak - w.base
}

// TestStreamOneGiB uploads and downloads 1 GiB through the REST front and
// checks the bytes and that the heap (server and client share the
// process) grows by less than 64 MiB: nothing buffers the object.
func TestStreamOneGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	const size = 1 << 30
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name) values ('big', 'big')`)
	seed := [32]byte{1, 2, 3}
	sum := sha256.New()
	watch := watchHeap()

	body := io.TeeReader(io.LimitReader(rand.NewChaCha8(seed), size), sum)
	hr, err := http.NewRequest("POST", s.url+"/object/big/gib.bin", body)
	if err != nil {
		t.Fatal(err)
	}
	hr.ContentLength = size
	hr.Header.Set("Authorization", "Bearer "+s.service)
	hr.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	res, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload: %d %s", res.StatusCode, b)
	}
	up := time.Since(start)

	hr, _ = http.NewRequestWithContext(context.Background(), "GET", s.url+"/object/big/gib.bin", nil)
	hr.Header.Set("Authorization", "Bearer "+s.service)
	start = time.Now()
	res, err = client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	res.Body.Close()
	if err != nil || n != size || res.Header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("download: %d bytes, %v, Content-Length %q", n, err, res.Header.Get("Content-Length"))
	}
	growth := watch.growth()
	t.Logf("upload %v, download %v, heap growth %d KiB", up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), growth>>10)
	if !bytes.Equal(got.Sum(nil), sum.Sum(nil)) {
		t.Fatal("downloaded bytes differ from the uploaded ones")
	}
	if growth >= 64<<20 {
		t.Fatalf("heap grew by %d MiB, want < 64 MiB", growth>>20)
	}
}
