package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/filestore"
)

// TestPeriodicSweepBesideTraffic runs the server's background sweep every
// 100 ms (STORAGE_SWEEP_INTERVAL) with a 2 s grace period while clients
// upload and replace objects and a multipart upload stays open across many
// sweeps. The sweep removes what a crash would leave (bytes without a row,
// temp files, an upload the database never heard of) and never anything a
// committed row or an upload in progress needs.
func TestPeriodicSweepBesideTraffic(t *testing.T) {
	s := startLive(t, map[string]string{"STORAGE_SWEEP_INTERVAL": "100ms", "STORAGE_SWEEP_GRACE": "2s"})
	ctx := context.Background()
	svc := s.serviceS3()
	token := jwtFor(t, "service_role", "")
	if _, err := svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sw")}); err != nil {
		t.Fatal(err)
	}
	objects := filepath.Join(s.dir, "objects")
	fs, err := filestore.New(objects)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	// What a crash leaves: bytes no row refers to, a temp file, and an
	// upload directory whose row was never written.
	orphan := backendKey("sw", "crashed", "00000000-0000-4000-8000-000000000000")
	if _, err := fs.Put(ctx, orphan, strings.NewReader("orphan"), 6, backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(objects, ".tmp", "put-crashed")
	lostUpload := filepath.Join(objects, ".multipart", "0123456789abcdef0123456789abcdef")
	os.WriteFile(tmp, []byte("half"), 0o600) //nolint:errcheck
	os.MkdirAll(lostUpload, 0o750)           //nolint:errcheck
	for _, p := range []string{orphanPath(objects, orphan), tmp} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	weekAgo := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(lostUpload, weekAgo, weekAgo) //nolint:errcheck

	// An upload in progress across the whole test.
	up, err := svc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("sw"), Key: aws.String("slow upload")})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("part "), 1000)
	p1, err := svc.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("sw"), Key: aws.String("slow upload"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d/k%d", w, i%5)
				body := []byte(fmt.Sprintf("%s %d %d", key, i, time.Now().UnixNano()))
				var ok bool
				if i%2 == 0 {
					_, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sw"), Key: aws.String(key),
						Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
					ok = err == nil
				} else {
					r, err := rest(http.DefaultClient, "PUT", s.url+"/object/sw/"+key, token, bytes.NewReader(body), nil)
					ok = err == nil && r.status == 200
				}
				if !ok {
					t.Errorf("upload of %s failed", key)
					return
				}
				mu.Lock()
				acked[key] = md5hex(body)
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "the sweep to remove the crash's leftovers", func() bool {
		_, e1 := os.Stat(orphanPath(objects, orphan))
		_, e2 := os.Stat(tmp)
		_, e3 := os.Stat(lostUpload)
		return os.IsNotExist(e1) && os.IsNotExist(e2) && os.IsNotExist(e3)
	})
	time.Sleep(2500 * time.Millisecond) // past the grace period: the first uploads' bytes are old now
	close(stop)
	wg.Wait()

	if _, err := svc.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("sw"), Key: aws.String("slow upload"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: p1.ETag, PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatalf("the upload kept open across sweeps: %v", err)
	}
	acked["slow upload"] = md5hex(part)
	for key, sum := range acked {
		if got := md5hex([]byte(readS3b(t, svc, "sw", key))); got != sum {
			t.Errorf("%s: bytes differ from the acknowledged upload", key)
		}
	}
	t.Logf("%d objects written and replaced beside the sweeps", len(acked))
	// Replaced versions are reclaimed: in the end the backend holds the
	// live versions only.
	waitFor(t, "the backend to hold only live versions", func() bool {
		n := 0
		fs.List(ctx, "stub/sw/", func(string, time.Time) error { n++; return nil }) //nolint:errcheck
		return n == len(acked)
	})
}

// orphanPath is where the file backend keeps key (plain ASCII keys only).
func orphanPath(root, key string) string {
	return filepath.Join(root, filepath.FromSlash(key)) + "@"
}
