package meta

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
)

func TestSweepRemovesOnlyUnreferencedBytes(t *testing.T) {
	t.Parallel()
	s, fs, _ := newStoreWithFiles(t)
	ctx := context.Background()
	put := func(name, body string) Object {
		o, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: name, Body: strings.NewReader(body), Size: int64(len(body)), Upsert: true})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	live := put("live", "keep me")
	put("replaced", "v1")
	replaced := put("replaced", "v2")
	up, err := s.CreateUpload(ctx, Service(), PutInput{Bucket: "r", Name: "in progress"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, Service(), "r", "in progress", up.ID, 1, strings.NewReader("part"), 4); err != nil {
		t.Fatal(err)
	}
	// Bytes a crashed write left behind: no row refers to them.
	orphan := s.BackendKey("r", "crashed", "00000000-0000-0000-0000-000000000000")
	if _, err := fs.Put(ctx, orphan, strings.NewReader("orphan"), 6, backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("recent bytes are kept during the grace period", func(t *testing.T) {
		st, err := s.Sweep(ctx, SweepOptions{Grace: time.Hour})
		if err != nil || st.Orphans != 0 || st.Reclaimed != 1 {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("after the grace period orphans go and live bytes stay", func(t *testing.T) {
		st, err := s.Sweep(ctx, SweepOptions{Grace: -time.Hour})
		if err != nil || st.Orphans != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		want := map[string]bool{
			s.BackendKey("r", "live", live.Version):         true,
			s.BackendKey("r", "replaced", replaced.Version): true,
		}
		for _, k := range backendKeys(t, fs) {
			if !want[k] {
				t.Errorf("unexpected key left: %s", k)
			}
			delete(want, k)
		}
		if len(want) != 0 {
			t.Errorf("live bytes deleted: %v", want)
		}
	})
	t.Run("the upload in progress still completes", func(t *testing.T) {
		parts, _, err := s.ListUploadParts(ctx, Service(), "r", "in progress", up.ID, 0, 10)
		if err != nil || len(parts) != 1 {
			t.Fatalf("%v %v", parts, err)
		}
		if _, err := s.CompleteUpload(ctx, Service(), "r", "in progress", up.ID, parts, true); err != nil {
			t.Fatal(err)
		}
	})
}
