package s3api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/meta/metatest"
)

// seedKeys inserts rows directly (listing reads rows only), 2,500 keys.
func seedKeys(t *testing.T, ts *testServer, bucket string) []string {
	t.Helper()
	var keys []string
	for i := 0; i < 2500; i++ {
		keys = append(keys, fmt.Sprintf("%s/%03d/k %d+ü", []string{"a", "b", "c", "d"}[i%4], i%50, i))
		if i%10 == 0 {
			keys = append(keys, fmt.Sprintf("top-%d", i))
		}
	}
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + strings.ReplaceAll(k, "'", "''") + "'"
	}
	metatest.Exec(t, ts.dsn, `insert into storage.objects (bucket_id, name, version, metadata)
		select '`+bucket+`', k, 'v', '{"size": 1, "eTag": "\"e\""}' from unnest(array[`+strings.Join(q, ",")+`]) k`)
	sort.Strings(keys)
	return keys
}

func TestListingPagesThroughEveryKeyOnce(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	ctx := context.Background()
	mustCreateBucket(t, c, "ls")
	keys := seedKeys(t, ts, "ls")
	want := func(prefix, delim string) []string {
		seen := map[string]bool{}
		var out []string
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			if delim != "" {
				if i := strings.Index(k[len(prefix):], delim); i >= 0 {
					k = k[:len(prefix)+i+len(delim)]
				}
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return out
	}
	for _, tt := range []struct{ prefix, delim string }{{"", ""}, {"", "/"}, {"b/", "/"}, {"c/0", "/"}, {"", " "}} {
		t.Run(fmt.Sprintf("v2 prefix %q delimiter %q", tt.prefix, tt.delim), func(t *testing.T) {
			var got []string
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("ls"), Prefix: aws.String(tt.prefix),
				Delimiter: aws.String(tt.delim), MaxKeys: aws.Int32(170)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, o := range page.Contents {
					names = append(names, *o.Key)
				}
				for _, cp := range page.CommonPrefixes {
					names = append(names, *cp.Prefix)
				}
				sort.Strings(names)
				got = append(got, names...)
			}
			if diff := cmp.Diff(want(tt.prefix, tt.delim), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
		t.Run(fmt.Sprintf("v1 prefix %q delimiter %q", tt.prefix, tt.delim), func(t *testing.T) {
			var got []string
			marker := ""
			for {
				page, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("ls"), Prefix: aws.String(tt.prefix),
					Delimiter: aws.String(tt.delim), Marker: aws.String(marker), MaxKeys: aws.Int32(333)})
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, o := range page.Contents {
					names = append(names, *o.Key)
				}
				for _, cp := range page.CommonPrefixes {
					names = append(names, *cp.Prefix)
				}
				sort.Strings(names)
				got = append(got, names...)
				if !*page.IsTruncated {
					break
				}
				marker = *page.NextMarker
			}
			if diff := cmp.Diff(want(tt.prefix, tt.delim), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("encoding-type=url encodes keys", func(t *testing.T) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("ls"), Prefix: aws.String("a/000/"),
			EncodingType: "url", MaxKeys: aws.Int32(1)})
		if err != nil || len(out.Contents) != 1 || !strings.Contains(*out.Contents[0].Key, "%20") {
			t.Fatalf("%+v %v", out.Contents, err)
		}
	})
	t.Run("start-after skips keys", func(t *testing.T) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("ls"), StartAfter: aws.String(keys[10]), MaxKeys: aws.Int32(2)})
		if err != nil || *out.Contents[0].Key != keys[11] || *out.KeyCount != 2 {
			t.Fatalf("%+v %v", out, err)
		}
	})
	t.Run("versions list as an unversioned bucket answers", func(t *testing.T) {
		out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("ls"), Prefix: aws.String("top-10"), MaxKeys: aws.Int32(5)})
		if err != nil || len(out.Versions) == 0 || *out.Versions[0].VersionId != "null" || !*out.Versions[0].IsLatest {
			t.Fatalf("%+v %v", out, err)
		}
	})
}
