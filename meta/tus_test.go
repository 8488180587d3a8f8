package meta

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestTUSIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "dir/sub/file.txt", "ünïcode/ключ", "trailing/"} {
		id := TUSID("bucket", name, "0b5cc0bf-4a53-4b3e-9e2e-a1b2c3d4e5f6")
		if strings.ContainsAny(id, "+/=") {
			t.Errorf("%q: id %q is not base64url without padding", name, id)
		}
		b, n, v, err := ParseTUSID(id)
		if err != nil || b != "bucket" || n != name || v != "0b5cc0bf-4a53-4b3e-9e2e-a1b2c3d4e5f6" {
			t.Errorf("%q: parsed %q %q %q %v", name, b, n, v, err)
		}
	}
	for _, bad := range []string{"", "!!!", TUSID("", "x", "v")[:0], "YnVja2V0", "YnVja2V0L3g"} {
		if _, _, _, err := ParseTUSID(bad); !apierr.Is(err, apierr.NoSuchUpload) {
			t.Errorf("%q: err %v, want NoSuchUpload", bad, err)
		}
	}
}

func createTUS(t *testing.T, s *Store, name string, length int64, upsert bool) TUSUpload {
	t.Helper()
	u, err := s.CreateTUS(context.Background(), Service(), TUSCreate{Bucket: "r", Name: name, Length: length,
		ContentType: "application/octet-stream", CacheControl: "no-cache", Upsert: upsert}, TUSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readObject(t *testing.T, s *Store, name string) []byte {
	t.Helper()
	o, err := s.GetObject(context.Background(), Service(), ReadService, "r", name)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Backend().Get(context.Background(), s.BackendKey("r", name, o.Version), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteTUSCutsChunksIntoParts(t *testing.T) {
	t.Parallel()
	s, _, _ := newStoreWithFiles(t)
	ctx := context.Background()
	const mib = 1 << 20
	data := randomBytes(23*mib+7, 1)
	u := createTUS(t, s, "pieces", int64(len(data)), false)
	o := TUSOptions{PartSize: MinPartSize}
	// Chunk sizes that exercise the tail (chunks under 5 MiB), a remainder
	// joining the part before it, and a chunk cut into several parts.
	chunks := []int{1 * mib, 2 * mib, 4 * mib, 11*mib + 3, 5*mib + 4}
	wantParts := [][]int64{nil, nil, {7 * mib}, {7 * mib, 5 * mib, 6*mib + 3}, {7 * mib, 5 * mib, 6*mib + 3, 5*mib + 4}}
	off := 0
	for i, n := range chunks {
		got, err := s.WriteTUS(ctx, &u, bytes.NewReader(data[off:off+n]), int64(n), o)
		if err != nil || got != int64(n) {
			t.Fatalf("chunk %d: wrote %d, %v", i, got, err)
		}
		off += n
		parts, err := s.tusParts(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int64
		for _, p := range parts {
			sizes = append(sizes, p.Size)
		}
		if !equalInts(sizes, wantParts[i]) {
			t.Errorf("after chunk %d: parts %v, want %v", i, sizes, wantParts[i])
		}
		fresh, err := s.GetTUS(ctx, Service(), u.ID)
		if err != nil || fresh.Offset != int64(off) || fresh.tail != u.tail {
			t.Fatalf("after chunk %d: stored state %+v, %v", i, fresh, err)
		}
	}
	if _, err := s.FinishTUS(ctx, &u, o); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s, "pieces"); !bytes.Equal(got, data) {
		t.Fatalf("object differs: %d bytes, want %d", len(got), len(data))
	}
	again, err := s.GetTUS(ctx, Service(), u.ID)
	if err != nil || !again.Completed || again.Offset != again.Length {
		t.Fatalf("finished upload reads as %+v, %v", again, err)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// shortReader yields the first n bytes of b, then io.EOF: a client that
// went away mid-chunk, as tusd's body reader presents it.
func shortReader(b []byte, n int) io.Reader { return bytes.NewReader(b[:n]) }

func TestWriteTUSKeepsWhatCommittedWhenTheBodyEnds(t *testing.T) {
	t.Parallel()
	s, _, _ := newStoreWithFiles(t)
	ctx := context.Background()
	data := randomBytes(12<<20, 2)
	u := createTUS(t, s, "cut", int64(len(data)), false)
	o := TUSOptions{PartSize: MinPartSize}
	// 12 MiB announced, 8 MiB sent: the first 5 MiB part commits, the
	// second piece (7 MiB) is cut off.
	got, err := s.WriteTUS(ctx, &u, shortReader(data, 8<<20), int64(len(data)), o)
	if err != nil || got != MinPartSize || u.Offset != MinPartSize {
		t.Fatalf("wrote %d (offset %d), %v", got, u.Offset, err)
	}
	got, err = s.WriteTUS(ctx, &u, bytes.NewReader(data[u.Offset:]), int64(len(data))-u.Offset, o)
	if err != nil || u.Offset != int64(len(data)) {
		t.Fatalf("resume wrote %d, %v", got, err)
	}
	if _, err := s.FinishTUS(ctx, &u, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readObject(t, s, "cut"), data) {
		t.Fatal("object differs after resume")
	}
}

func TestWriteTUSRefusesAStaleWriter(t *testing.T) {
	t.Parallel()
	s, _, _ := newStoreWithFiles(t)
	ctx := context.Background()
	a, b := randomBytes(6<<20, 3), randomBytes(6<<20, 4)
	u := createTUS(t, s, "stale", 12<<20, false)
	stale := u
	if _, err := s.WriteTUS(ctx, &u, bytes.NewReader(a), int64(len(a)), TUSOptions{}); err != nil {
		t.Fatal(err)
	}
	// A writer that read the state before the first one committed (two
	// servers that both believe they hold the lock) cannot commit.
	if n, err := s.WriteTUS(ctx, &stale, bytes.NewReader(b), int64(len(b)), TUSOptions{}); !errors.Is(err, ErrTUSConflict) || n != 0 {
		t.Fatalf("stale write: %d, %v", n, err)
	}
	if _, err := s.WriteTUS(ctx, &u, bytes.NewReader(b), int64(len(b)), TUSOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishTUS(ctx, &u, TUSOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s, "stale"); !bytes.Equal(got[:6<<20], a) || !bytes.Equal(got[6<<20:], b) {
		t.Fatal("the stale writer's bytes reached the object")
	}
}

func TestFinishTUSCommitsLikeEveryWrite(t *testing.T) {
	t.Parallel()
	s, _, _ := newStoreWithFiles(t)
	ctx := context.Background()
	put := func(name string, upsert bool) (*TUSUpload, error) {
		u := createTUS(t, s, name, 3, upsert)
		if _, err := s.WriteTUS(ctx, &u, strings.NewReader("new"), 3, TUSOptions{}); err != nil {
			t.Fatal(err)
		}
		// Someone writes the key while the upload is in progress.
		if _, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: name, Body: strings.NewReader("old"), Size: 3, Upsert: true}); err != nil {
			t.Fatal(err)
		}
		_, err := s.FinishTUS(ctx, &u, TUSOptions{})
		return &u, err
	}
	t.Run("a non-upsert that lost the key fails and leaves nothing", func(t *testing.T) {
		u, err := put("taken", false)
		if !apierr.Is(err, apierr.ResourceAlreadyExists) {
			t.Fatalf("err %v, want ResourceAlreadyExists", err)
		}
		if string(readObject(t, s, "taken")) != "old" {
			t.Error("the existing object changed")
		}
		if _, err := s.GetTUS(ctx, Service(), u.ID); !apierr.Is(err, apierr.NoSuchUpload) {
			t.Errorf("upload still there: %v", err)
		}
		if _, err := s.Backend().Head(ctx, s.BackendKey("r", "taken", u.Version)); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("the upload's bytes are still there: %v", err)
		}
	})
	t.Run("an upsert replaces the object", func(t *testing.T) {
		if _, err := put("replaced", true); err != nil {
			t.Fatal(err)
		}
		if string(readObject(t, s, "replaced")) != "new" {
			t.Error("the upload did not replace the object")
		}
	})
	t.Run("an empty upload makes an empty object", func(t *testing.T) {
		u := createTUS(t, s, "empty", 0, false)
		if _, err := s.FinishTUS(ctx, &u, TUSOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := readObject(t, s, "empty"); len(got) != 0 {
			t.Errorf("got %d bytes", len(got))
		}
	})
}

func TestExpireTUS(t *testing.T) {
	t.Parallel()
	s, fs, dsn := newStoreWithFiles(t)
	ctx := context.Background()
	expired := createTUS(t, s, "expired", 10<<20, false)
	if _, err := s.WriteTUS(ctx, &expired, bytes.NewReader(randomBytes(1<<20, 5)), 1<<20, TUSOptions{}); err != nil {
		t.Fatal(err)
	}
	locked := createTUS(t, s, "locked", 10, false)
	live := createTUS(t, s, "live", 10<<20, false)
	if _, err := s.WriteTUS(ctx, &live, bytes.NewReader(randomBytes(1<<20, 6)), 1<<20, TUSOptions{}); err != nil {
		t.Fatal(err)
	}
	metatest.Exec(t, dsn, `update storage.gateway_tus_uploads set expires_at = now() - interval '1 second'
		where name in ('expired', 'locked')`)
	l := NewTUSLocker(s)
	defer l.Close()
	unlock, err := l.Lock(ctx, locked.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the sweep aborts expired uploads but not one a request holds", func(t *testing.T) {
		st, err := s.Sweep(ctx, SweepOptions{Grace: -time.Hour})
		if err != nil || st.StaleUploads != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		if err := s.be.AbortMultipart(ctx, s.BackendKey("r", "expired", expired.Version), expired.backendID); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("the expired upload's multipart upload is still there: %v", err)
		}
	})
	t.Run("the tail of a live upload is not an orphan", func(t *testing.T) {
		keys := map[string]bool{}
		for _, k := range backendKeys(t, fs) {
			keys[k] = true
		}
		if !keys[s.tailKey(&live, live.tail)] {
			t.Errorf("live tail %s deleted; keys %v", live.tail, keys)
		}
		if keys[s.tailKey(&expired, expired.tail)] {
			t.Error("the expired upload's tail is still there")
		}
	})
	t.Run("once released the expired upload goes", func(t *testing.T) {
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if n, err := s.ExpireTUS(ctx); err != nil || n != 1 {
			t.Fatalf("%d %v", n, err)
		}
		if _, err := s.GetTUS(ctx, Service(), locked.ID); !apierr.Is(err, apierr.NoSuchUpload) {
			t.Errorf("got %v", err)
		}
	})
}

func TestTUSLockerAcrossServers(t *testing.T) {
	t.Parallel()
	s1, _, dsn := newStoreWithFiles(t)
	s2, err := Open(context.Background(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Close)
	l1, l2 := NewTUSLocker(s1), NewTUSLocker(s2)
	defer l1.Close()
	defer l2.Close()
	ctx := context.Background()
	asked := make(chan struct{})
	unlock1, err := l1.Lock(ctx, "upload", func() { close(asked) })
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a waiter times out while the holder keeps the lock", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := l2.Lock(wctx, "upload", nil); !apierr.Is(err, apierr.LockTimeout) {
			t.Fatalf("err %v, want LockTimeout", err)
		}
	})
	t.Run("the holder on the other server is asked to release", func(t *testing.T) {
		select {
		case <-asked:
		case <-time.After(5 * time.Second):
			t.Fatal("the holder was never asked")
		}
	})
	t.Run("the lock passes once released", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			unlock2, err := l2.Lock(wctx, "upload", nil)
			if err == nil {
				err = unlock2()
			}
			got <- err
		}()
		if err := unlock1(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("two requests on one server take turns", func(t *testing.T) {
		released := make(chan struct{})
		unlock, err := l1.Lock(ctx, "local", func() { close(released) })
		if err != nil {
			t.Fatal(err)
		}
		go func() { <-released; unlock() }() //nolint:errcheck // checked by the second Lock
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		unlock2, err := l1.Lock(wctx, "local", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := unlock2(); err != nil {
			t.Fatal(err)
		}
	})
}
