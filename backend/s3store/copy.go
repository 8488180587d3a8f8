package s3store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/supagate/storage/backend"
)

// Copy implements backend.Backend. Objects up to 5 GiB are copied with one
// CopyObject; larger ones with a multipart upload of UploadPartCopy parts,
// each pinned to the source's ETag so that a source replaced meanwhile fails
// the copy (ErrPrecondition) instead of mixing versions.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (backend.Info, error) {
	info, err := s.copy(ctx, srcKey, dstKey)
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	return info, nil
}

func (s *Store) copy(ctx context.Context, srcKey, dstKey string) (backend.Info, error) {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &srcKey})
	if err != nil {
		return backend.Info{}, mapErr(err)
	}
	size := aws.ToInt64(head.ContentLength)
	info := backend.Info{
		Size:         size,
		ETag:         aws.ToString(head.ETag),
		LastModified: aws.ToTime(head.LastModified),
		ContentType:  aws.ToString(head.ContentType),
		End:          size - 1,
	}
	if srcKey == dstKey {
		return info, nil // S3 refuses a copy onto itself that changes nothing
	}
	if size > s.copyLimit {
		return s.copyParts(ctx, srcKey, dstKey, head)
	}
	out, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.bucket, Key: &dstKey, CopySource: s.copySource(srcKey),
		CopySourceIfMatch: head.ETag,
	})
	if err != nil {
		return backend.Info{}, mapErr(err)
	}
	if r := out.CopyObjectResult; r != nil {
		info.ETag = aws.ToString(r.ETag)
		info.LastModified = aws.ToTime(r.LastModified)
	}
	return info, nil
}

// copySource is the x-amz-copy-source value for key: bucket and key,
// URL-encoded segment by segment. '+' is encoded too, since some services
// decode the header as a query string.
func (s *Store) copySource(key string) *string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(seg), "+", "%2B")
	}
	return aws.String(s.bucket + "/" + strings.Join(segs, "/"))
}

// copyParts copies an object too large for CopyObject with UploadPartCopy,
// Concurrency parts at a time.
func (s *Store) copyParts(ctx context.Context, srcKey, dstKey string, head *s3.HeadObjectOutput) (backend.Info, error) {
	size := aws.ToInt64(head.ContentLength)
	partSize := max(s.copyPartSize, (size+maxParts-1)/maxParts)
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &dstKey, ContentType: head.ContentType, CacheControl: head.CacheControl,
	})
	if err != nil {
		return backend.Info{}, mapErr(err)
	}
	id := aws.ToString(created.UploadId)
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []types.CompletedPart
		sem   = make(chan struct{}, s.concurrency)
	)
	for n, off := int32(1), int64(0); off < size && cctx.Err() == nil; n, off = n+1, off+partSize {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := s.client.UploadPartCopy(cctx, &s3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: &dstKey, UploadId: &id, PartNumber: aws.Int32(n),
				CopySource: s.copySource(srcKey), CopySourceIfMatch: head.ETag,
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, min(off+partSize, size)-1)),
			})
			if err != nil {
				cancel(fmt.Errorf("copy part %d: %w", n, mapErr(err)))
				return
			}
			etag := ""
			if out.CopyPartResult != nil {
				etag = aws.ToString(out.CopyPartResult.ETag)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: &etag})
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := context.Cause(cctx); err != nil {
		s.abort(ctx, dstKey, id)
		return backend.Info{}, err
	}
	out, err := s.complete(ctx, dstKey, id, parts)
	if err != nil {
		s.abort(ctx, dstKey, id)
		return backend.Info{}, err
	}
	return backend.Info{
		Size:         size,
		ETag:         aws.ToString(out.ETag),
		LastModified: serverTime(out.ResultMetadata),
		ContentType:  aws.ToString(head.ContentType),
		End:          size - 1,
	}, nil
}
