package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestMultipart(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.service()
	ctx := context.Background()
	mustCreateBucket(t, c, "mp")
	src := bytes.Repeat([]byte("s"), 6<<20)
	put(t, c, "mp", "source", src)

	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
		ContentType: aws.String("application/x-test"), Metadata: map[string]string{"md5chksum": "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), bytes.Repeat([]byte("b"), 5<<20), []byte("tail")}
	var done []types.CompletedPart
	var sums []byte
	// Upload out of order: the order of completion is what counts.
	for _, i := range []int{2, 0, 1} {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
			UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(parts[i]),
			ContentLength: aws.Int64(int64(len(parts[i])))})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	done = []types.CompletedPart{done[1], done[2], done[0]}
	// A fourth part copied from a range of another object.
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
		UploadId: cr.UploadId, PartNumber: aws.Int32(4), CopySource: aws.String("mp/source"), CopySourceRange: aws.String("bytes=0-9")})
	if err != nil {
		t.Fatal(err)
	}
	// Part 3 ("tail") is not last any more, and it is below 5 MiB.
	t.Run("a small part that is not last is EntityTooSmall", func(t *testing.T) {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: append(done,
				types.CompletedPart{PartNumber: aws.Int32(4), ETag: cp.CopyPartResult.ETag})}})
		if apiCode(err) != "EntityTooSmall" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("list parts shows every part", func(t *testing.T) {
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp"), Key: aws.String("big file"), UploadId: cr.UploadId})
		if err != nil || len(lp.Parts) != 4 || *lp.Parts[3].Size != 10 {
			t.Fatalf("%+v %v", lp, err)
		}
		lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mp")})
		if err != nil || len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *cr.UploadId {
			t.Fatalf("%+v %v", lu, err)
		}
	})
	t.Run("an upload id is bound to its key", func(t *testing.T) {
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mp"), Key: aws.String("other key"),
			UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
		if apiCode(err) != "NoSuchUpload" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a wrong part etag is InvalidPart", func(t *testing.T) {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
				{PartNumber: aws.Int32(1), ETag: aws.String(`"00000000000000000000000000000000"`)}}}})
		if apiCode(err) != "InvalidPart" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("complete assembles the parts in order with a multipart etag", func(t *testing.T) {
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("big file"),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			s := md5.Sum(p)
			sums = append(sums, s[:]...)
		}
		if want := fmt.Sprintf(`"%x-3"`, md5.Sum(sums)); *out.ETag != want {
			t.Errorf("etag %s, want %s", *out.ETag, want)
		}
		got := get(t, c, "mp", "big file")
		if !bytes.Equal(got, bytes.Join(parts, nil)) {
			t.Errorf("assembled bytes differ (%d bytes)", len(got))
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mp"), Key: aws.String("big file")})
		if err != nil || *h.ContentType != "application/x-test" || h.Metadata["md5chksum"] != "abc" {
			t.Errorf("head %+v %v", h, err)
		}
		_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp"), Key: aws.String("big file"), UploadId: cr.UploadId})
		if apiCode(err) != "NoSuchUpload" {
			t.Errorf("the completed upload lingers: %v", err)
		}
	})
	t.Run("abort discards an upload", func(t *testing.T) {
		u, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("gone")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("gone"), UploadId: u.UploadId}); err != nil {
			t.Fatal(err)
		}
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mp"), Key: aws.String("gone"), UploadId: u.UploadId})
		if apiCode(err) != "NoSuchUpload" {
			t.Fatalf("second abort: %v", err)
		}
	})
}
