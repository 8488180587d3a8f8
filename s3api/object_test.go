package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// apiCode returns the S3 error code of an SDK error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func mustCreateBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

func get(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	ctx := context.Background()
	mustCreateBucket(t, c, "bk")
	t.Run("re-creating one's own bucket is BucketAlreadyOwnedByYou", func(t *testing.T) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bk")})
		if apiCode(err) != "BucketAlreadyOwnedByYou" || httpStatus(err) != 409 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an invalid name is InvalidBucketName", func(t *testing.T) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bad\\name")})
		if apiCode(err) != "InvalidBucketName" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("head, location, versioning and list see it", func(t *testing.T) {
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bk")}); err != nil {
			t.Fatal(err)
		}
		loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("bk")})
		if err != nil || loc.LocationConstraint != "" {
			t.Fatalf("location %v %v", loc, err)
		}
		ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("bk")})
		if err != nil || ver.Status != "" {
			t.Fatalf("versioning %v %v", ver, err)
		}
		lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil || len(lb.Buckets) != 1 || *lb.Buckets[0].Name != "bk" {
			t.Fatalf("list %v %v", lb, err)
		}
	})
	t.Run("a missing bucket is NoSuchBucket with 404", func(t *testing.T) {
		_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
		if httpStatus(err) != 404 {
			t.Fatalf("err = %v", err)
		}
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nope")})
		if apiCode(err) != "NoSuchBucket" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a bucket with objects is not deleted", func(t *testing.T) {
		put(t, c, "bk", "x", []byte("x"))
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bk")})
		if apiCode(err) != "BucketNotEmpty" || httpStatus(err) != 409 {
			t.Fatalf("err = %v", err)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bk"), Key: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bk")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestObjects(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	ctx := context.Background()
	mustCreateBucket(t, c, "ob")
	keys := []string{"plain.txt", "ünï cødé/a+b&c=d e.txt", "dir/sub/%41~!*'()$,;=:@.bin", "trailing/"}
	for _, k := range keys {
		t.Run("round trip of "+k, func(t *testing.T) {
			body := []byte("hello " + k)
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ob"), Key: aws.String(k),
				Body: bytes.NewReader(body), ContentType: aws.String("text/plain"), CacheControl: aws.String("max-age=60"),
				Metadata: map[string]string{"Color": "blue", "mtime": "1700000000.5"}})
			if err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(body)
			if want := fmt.Sprintf(`"%x"`, sum); *out.ETag != want {
				t.Errorf("etag %s, want %s", *out.ETag, want)
			}
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ob"), Key: aws.String(k)})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if !bytes.Equal(b, body) || *got.ContentType != "text/plain" || *got.CacheControl != "max-age=60" ||
				got.Metadata["color"] != "blue" || got.Metadata["mtime"] != "1700000000.5" {
				t.Errorf("got %q type=%v cc=%v meta=%v", b, *got.ContentType, *got.CacheControl, got.Metadata)
			}
		})
	}
	t.Run("ranges are served with 206", func(t *testing.T) {
		put(t, c, "ob", "r", []byte("0123456789"))
		for rng, want := range map[string]string{"bytes=2-4": "234", "bytes=-3": "789", "bytes=7-": "789", "bytes=8-100": "89"} {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ob"), Key: aws.String("r"), Range: aws.String(rng)})
			if err != nil {
				t.Fatal(rng, err)
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(b) != want || out.ContentRange == nil {
				t.Errorf("%s: got %q range %v", rng, b, out.ContentRange)
			}
		}
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ob"), Key: aws.String("r"), Range: aws.String("bytes=20-")})
		if apiCode(err) != "InvalidRange" || httpStatus(err) != 416 {
			t.Errorf("unsatisfiable range: %v", err)
		}
	})
	t.Run("conditionals follow S3", func(t *testing.T) {
		etag := *put(t, c, "ob", "cond", []byte("v1")).ETag
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ob"), Key: aws.String("cond"), IfNoneMatch: aws.String(etag)})
		if httpStatus(err) != 304 {
			t.Errorf("If-None-Match: %v", err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ob"), Key: aws.String("cond"), IfMatch: aws.String(`"nope"`)})
		if httpStatus(err) != 412 {
			t.Errorf("HEAD If-Match: %v", err)
		}
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ob"), Key: aws.String("cond"), Body: strings.NewReader("v2"),
			IfNoneMatch: aws.String("*")})
		if httpStatus(err) != 412 {
			t.Errorf("conditional write over an existing key: %v", err)
		}
		if string(get(t, c, "ob", "cond")) != "v1" {
			t.Errorf("the conditional write changed the object")
		}
	})
	t.Run("head of a missing key is 404", func(t *testing.T) {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ob"), Key: aws.String("missing")})
		if httpStatus(err) != 404 {
			t.Fatalf("err = %v", err)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ob"), Key: aws.String("missing")})
		if apiCode(err) != "NoSuchKey" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("copy keeps or replaces metadata", func(t *testing.T) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ob"), Key: aws.String("src key+&="),
			Body: strings.NewReader("copy me"), ContentType: aws.String("text/x-src"), Metadata: map[string]string{"a": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst1"),
			CopySource: aws.String("ob/src%20key%2B%26%3D")})
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst1")})
		if err != nil || *h.ContentType != "text/x-src" || h.Metadata["a"] != "1" {
			t.Fatalf("COPY directive: %v %v", h, err)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst2"),
			CopySource: aws.String("ob/src%20key%2B%26%3D"), MetadataDirective: types.MetadataDirectiveReplace,
			ContentType: aws.String("text/x-new"), Metadata: map[string]string{"b": "2"}})
		if err != nil {
			t.Fatal(err)
		}
		h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst2")})
		if err != nil || *h.ContentType != "text/x-new" || h.Metadata["b"] != "2" || h.Metadata["a"] != "" {
			t.Fatalf("REPLACE directive: %+v %v", h.Metadata, err)
		}
		if string(get(t, c, "ob", "dst2")) != "copy me" {
			t.Errorf("copied bytes differ")
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst1"),
			CopySource: aws.String("ob/dst1")})
		if apiCode(err) != "InvalidRequest" {
			t.Errorf("copy onto itself: %v", err)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ob"), Key: aws.String("dst3"),
			CopySource: aws.String("ob/dst1"), CopySourceIfMatch: aws.String(`"other"`)})
		if httpStatus(err) != 412 {
			t.Errorf("copy-source-if-match: %v", err)
		}
	})
	t.Run("delete objects reports each key", func(t *testing.T) {
		put(t, c, "ob", "d1", []byte("1"))
		put(t, c, "ob", "d2", []byte("2"))
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ob"), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("d1")}, {Key: aws.String("d2")}, {Key: aws.String("never")}}}})
		if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
			t.Fatalf("verbose: %+v %v", out, err)
		}
		out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ob"), Delete: &types.Delete{
			Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("plain.txt")}}}})
		if err != nil || len(out.Deleted) != 0 {
			t.Fatalf("quiet: %+v %v", out, err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ob"), Key: aws.String("plain.txt")})
		if httpStatus(err) != 404 {
			t.Errorf("deleted object still there: %v", err)
		}
	})
	t.Run("unimplemented subresources answer NotImplemented", func(t *testing.T) {
		_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("ob")})
		if apiCode(err) != "NotImplemented" || httpStatus(err) != 501 {
			t.Fatalf("err = %v", err)
		}
		_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("ob")})
		if apiCode(err) != "NotImplemented" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("tagging is an empty set and ACLs are owner full control", func(t *testing.T) {
		put(t, c, "ob", "tag", []byte("t"))
		tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("ob"), Key: aws.String("tag")})
		if err != nil || len(tg.TagSet) != 0 {
			t.Fatalf("tagging %v %v", tg, err)
		}
		acl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("ob"), Key: aws.String("tag")})
		if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
			t.Fatalf("acl %v %v", acl, err)
		}
		if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("ob"), Key: aws.String("tag"),
			ACL: types.ObjectCannedACLPrivate}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := context.Background()
	mustCreateBucket(t, ts.service(), "au")
	tests := []struct {
		name, key, secret, want string
	}{
		{name: "a wrong secret is SignatureDoesNotMatch", key: testKey, secret: "wrong", want: "SignatureDoesNotMatch"},
		{name: "an unknown key is InvalidAccessKeyId", key: "NOSUCHKEY", secret: "x", want: "InvalidAccessKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(ts.url, tt.key, tt.secret, "").ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("au")})
			if apiCode(err) != tt.want || httpStatus(err) != 403 {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
	t.Run("an unsigned request is AccessDenied", func(t *testing.T) {
		resp, err := http.Get(ts.url + "/au")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !bytes.Contains(b, []byte("<Code>AccessDenied</Code>")) || bytes.Contains(b, []byte("xmlns")) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("the root listener serves the same S3", func(t *testing.T) {
		put(t, client(ts.root, testKey, testSecret, ""), "au", "via-root", []byte("r"))
		if string(get(t, ts.service(), "au", "via-root")) != "r" {
			t.Fatal("objects differ between mounts")
		}
	})
	t.Run("presigned GET and PUT work and expire", func(t *testing.T) {
		pc := s3.NewPresignClient(ts.service())
		pu, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("au"), Key: aws.String("pre sign+d")})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, pu.URL, strings.NewReader("presigned body"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("presigned put: %v %v", resp, err)
		}
		resp.Body.Close()
		pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("au"), Key: aws.String("pre sign+d")})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.Get(pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "presigned body" {
			t.Fatalf("presigned get: %d %q", resp.StatusCode, b)
		}
		tampered := strings.Replace(pg.URL, "pre%20sign", "pre%20sigm", 1)
		resp, err = http.Get(tampered)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("tampered presigned url: %d", resp.StatusCode)
		}
	})
}

// TestStreamingUploadWithTrailingChecksum drives the SDK's default upload
// path: aws-chunked with a trailing CRC32, which it only uses over https.
// The transport speaks plain http to our loopback listener instead.
func TestStreamingUploadWithTrailingChecksum(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	mustCreateBucket(t, ts.service(), "st")
	hostport := strings.TrimSuffix(strings.TrimPrefix(ts.url, "http://"), "/s3")
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, hostport)
	}}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://" + hostport + "/s3"), UsePathStyle: true,
		Credentials: ts.service().Options().Credentials, HTTPClient: &http.Client{Transport: tr}})
	ctx := context.Background()
	body := bytes.Repeat([]byte("streaming-"), 300_000) // 3 MB, one chunk or several: any split must work
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("st"), Key: aws.String("big"),
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("st"), Key: aws.String("big"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(b, body) {
		t.Fatalf("bytes differ: %d vs %d", len(b), len(body))
	}
	if out.ChecksumCRC32 == nil || *out.ChecksumCRC32 == "" {
		t.Errorf("the stored checksum was not returned")
	}
}
