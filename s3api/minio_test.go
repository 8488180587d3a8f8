package s3api

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestMinioGo drives the root-mounted listener with minio-go, which signs
// aws-chunked streaming uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) over
// plain http and cannot put a path into an endpoint.
func TestMinioGo(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	mc, err := minio.New(strings.TrimPrefix(ts.root, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(testKey, testSecret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "mgo", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		size int
		opts minio.PutObjectOptions
	}{
		{name: "a small object", size: 100, opts: minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"k": "v"}}},
		{name: "a streaming signed upload of unknown length", size: 7 << 20, opts: minio.PutObjectOptions{PartSize: 5 << 20}},
		{name: "a multipart upload", size: 12 << 20, opts: minio.PutObjectOptions{PartSize: 5 << 20, ConcurrentStreamParts: true, NumThreads: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte{byte(tt.size)}, tt.size)
			size := int64(tt.size)
			if strings.Contains(tt.name, "unknown") {
				size = -1
			}
			key := "k/" + strings.ReplaceAll(tt.name, " ", "_")
			if _, err := mc.PutObject(ctx, "mgo", key, bytes.NewReader(body), size, tt.opts); err != nil {
				t.Fatal(err)
			}
			obj, err := mc.GetObject(ctx, "mgo", key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("got %d bytes, err %v", len(got), err)
			}
			st, err := mc.StatObject(ctx, "mgo", key, minio.StatObjectOptions{})
			if err != nil || st.Size != int64(tt.size) {
				t.Fatalf("stat %+v %v", st, err)
			}
			if tt.opts.UserMetadata != nil && st.UserMetadata["K"] != "v" {
				t.Errorf("metadata %v", st.UserMetadata)
			}
		})
	}
	t.Run("listing and removal", func(t *testing.T) {
		n := 0
		for o := range mc.ListObjects(ctx, "mgo", minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			n++
			if err := mc.RemoveObject(ctx, "mgo", o.Key, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if n != len(tests) {
			t.Fatalf("listed %d objects", n)
		}
		if err := mc.RemoveBucket(ctx, "mgo"); err != nil {
			t.Fatal(err)
		}
	})
}
