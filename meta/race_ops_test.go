package meta

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/supagate/storage/meta/apierr"
)

// checkConsistent asserts DESIGN.md's invariant once the deletion queue is
// drained: every row's bytes exist and match its ETag, and the backend
// holds the live versions and nothing else.
func checkConsistent(t *testing.T, s *Store, fsKeys func() []string) map[string][]byte {
	t.Helper()
	drainQueue(t, s)
	ctx := context.Background()
	live := map[string][]byte{}
	want := map[string]bool{}
	for _, name := range []string{"src", "dst"} {
		o, err := s.GetObject(ctx, Service(), ReadService, "r", name)
		if apierr.Is(err, apierr.NoSuchKey) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		key := s.BackendKey("r", name, o.Version)
		want[key] = true
		r, _, err := s.Backend().Get(ctx, key, nil)
		if err != nil {
			t.Fatalf("row %s points at missing bytes: %v", name, err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if got := fmt.Sprintf(`"%x"`, md5.Sum(b)); got != o.Meta.ETag {
			t.Errorf("row %s: etag %s, bytes %s", name, o.Meta.ETag, got)
		}
		live[name] = b
	}
	for _, k := range fsKeys() {
		if !want[k] {
			t.Errorf("the backend still holds %s", k)
		}
	}
	return live
}

// TestMoveRacingUpsert moves an object while other writers upsert its
// source and its destination. A move either happens whole (the destination
// holds bytes that were at the source) or fails cleanly; a move never
// overwrites; no bytes are lost or left behind.
func TestMoveRacingUpsert(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"src", "dst"} {
		t.Run("upserts of the "+target, func(t *testing.T) {
			s, fs, _ := newStoreWithFiles(t)
			ctx := context.Background()
			put := func(name string, body []byte) {
				if _, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: name, Body: bytes.NewReader(body),
					Size: int64(len(body)), Upsert: true}); err != nil {
					t.Error(err)
				}
			}
			written := map[string]bool{}
			var mu sync.Mutex
			for round := 0; round < 20; round++ {
				first := []byte(fmt.Sprintf("round %d original", round))
				written[string(first)] = true
				put("src", first)
				if _, err := s.DeleteObject(ctx, Service(), "r", "dst"); err != nil && !apierr.Is(err, apierr.NoSuchKey) {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				var moveErr error
				wg.Add(2)
				go func() {
					defer wg.Done()
					_, moveErr = s.MoveObject(ctx, Service(), "r", "src", "r", "dst")
				}()
				go func() {
					defer wg.Done()
					for i := 0; i < 3; i++ {
						b := []byte(fmt.Sprintf("round %d upsert %d of %s", round, i, target))
						mu.Lock()
						written[string(b)] = true
						mu.Unlock()
						put(target, b)
					}
				}()
				wg.Wait()
				if moveErr != nil && !apierr.Is(moveErr, apierr.NoSuchKey) && !apierr.Is(moveErr, apierr.ResourceAlreadyExists) {
					t.Fatalf("round %d: move failed with %v", round, moveErr)
				}
				live := checkConsistent(t, s, func() []string { return backendKeys(t, fs) })
				for name, b := range live {
					if !written[string(b)] {
						t.Errorf("round %d: %s holds bytes nobody wrote: %q", round, name, b)
					}
				}
				if target == "src" && moveErr == nil && live["dst"] == nil {
					t.Errorf("round %d: the move succeeded but the destination is empty", round)
				}
			}
		})
	}
}

// TestDeleteRacingDownload deletes objects while they are being read: a
// reader gets either the whole object or "not found", never a part of it
// or someone else's bytes, and the deleted bytes are reclaimed.
func TestDeleteRacingDownload(t *testing.T) {
	t.Parallel()
	s, fs, _ := newStoreWithFiles(t)
	ctx := context.Background()
	body := bytes.Repeat([]byte("0123456789"), 50_000)
	whole, missing := 0, 0
	for round := 0; round < 30; round++ {
		name := fmt.Sprintf("obj-%d", round)
		if _, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: name, Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := s.GetObject(ctx, Service(), ReadService, "r", name)
				if err != nil {
					results[i] = err
					return
				}
				r, _, err := s.Backend().Get(ctx, s.BackendKey("r", name, o.Version), nil)
				if err != nil {
					results[i] = BackendError(err)
					return
				}
				defer r.Close()
				b, err := io.ReadAll(r)
				switch {
				case err != nil:
					results[i] = err
				case !bytes.Equal(b, body):
					results[i] = fmt.Errorf("read %d bytes that are not the object", len(b))
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.DeleteObject(ctx, Service(), "r", name); err != nil {
				t.Error(err)
			}
			if _, err := s.ReclaimOnce(ctx, 10); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		for _, err := range results {
			switch {
			case err == nil:
				whole++
			case apierr.Is(err, apierr.NoSuchKey):
				missing++
			default:
				t.Errorf("round %d: a reader got %v", round, err)
			}
		}
	}
	drainQueue(t, s)
	if keys := backendKeys(t, fs); len(keys) != 0 {
		t.Errorf("deleted objects' bytes remain: %v", keys)
	}
	t.Logf("%d whole reads, %d not found", whole, missing)
}
