package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/supagate/storage/backend"
)

// CreateMultipart implements backend.Backend with CreateMultipartUpload;
// the upload id is S3's. o.MD5 is ignored.
func (s *Store) CreateMultipart(ctx context.Context, key string, o backend.PutOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if o.CacheControl != "" {
		in.CacheControl = &o.CacheControl
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", fmt.Errorf("s3store: create multipart %q: %w", key, mapErr(err))
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart implements backend.Backend with UploadPart. A part of known
// size streams; S3 needs a length, so a part of unknown size is read into
// memory first and may be at most PartSize bytes.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int32, body io.Reader, size int64) (backend.Part, error) {
	p, err := s.uploadPart(ctx, key, uploadID, n, body, size)
	if err != nil {
		return backend.Part{}, fmt.Errorf("s3store: upload part %d of %q: %w", n, key, err)
	}
	return p, nil
}

func (s *Store) uploadPart(ctx context.Context, key, id string, n int32, body io.Reader, size int64) (backend.Part, error) {
	if n < 1 || n > maxParts {
		return backend.Part{}, fmt.Errorf("part number %d out of range 1..%d", n, maxParts)
	}
	in := &s3.UploadPartInput{Bucket: &s.bucket, Key: &key, UploadId: &id, PartNumber: aws.Int32(n)}
	if size < 0 {
		buf := s.getBuf(s.partSize)
		defer s.putBuf(buf)
		k, err := io.ReadFull(ctxReader{ctx, body}, *buf)
		switch err {
		case io.EOF, io.ErrUnexpectedEOF:
		case nil:
			if err := probeEOF(body); err != nil {
				return backend.Part{}, fmt.Errorf("part of unknown size over %d bytes: %w", s.partSize, err)
			}
		default:
			return backend.Part{}, err
		}
		in.Body, in.ContentLength = bytes.NewReader((*buf)[:k]), aws.Int64(int64(k))
		out, err := s.client.UploadPart(ctx, in)
		if err != nil {
			return backend.Part{}, mapErr(err)
		}
		if sum := md5.Sum((*buf)[:k]); etagMismatch(checkable(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm), sum[:]) {
			return backend.Part{}, fmt.Errorf("%w: got %s, sent %x", errCorrupt, aws.ToString(out.ETag), sum)
		}
		return backend.Part{Number: n, ETag: aws.ToString(out.ETag), Size: int64(k)}, nil
	}
	sr := &sizedReader{r: body, left: size, h: md5.New()}
	in.ContentLength = aws.Int64(size)
	if size == 0 {
		if err := probeEOF(body); err != nil {
			return backend.Part{}, err
		}
	} else {
		in.Body = sr
	}
	out, err := s.client.UploadPart(ctx, in, unsignedPayload)
	if berr := sr.finish(); berr != nil {
		return backend.Part{}, berr
	}
	if err != nil {
		return backend.Part{}, mapErr(err)
	}
	if sum := sr.h.Sum(nil); etagMismatch(checkable(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm), sum) {
		return backend.Part{}, fmt.Errorf("%w: got %s, sent %x", errCorrupt, aws.ToString(out.ETag), sum)
	}
	return backend.Part{Number: n, ETag: aws.ToString(out.ETag), Size: size}, nil
}

// CompleteMultipart implements backend.Backend with
// CompleteMultipartUpload. Parts must be in ascending order of number, as
// S3 requires. The size comes from a HeadObject afterwards.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []backend.Part) (backend.Info, error) {
	if err := checkPartList(parts); err != nil {
		return backend.Info{}, fmt.Errorf("s3store: complete multipart %q: %w", key, err)
	}
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	out, err := s.complete(ctx, key, uploadID, done)
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3store: complete multipart %q: %w", key, err)
	}
	info, err := s.Head(ctx, key)
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3store: complete multipart %q: %w", key, err)
	}
	info.ETag = aws.ToString(out.ETag)
	return info, nil
}

// complete sorts parts by number and completes the upload.
func (s *Store) complete(ctx context.Context, key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	sort.Slice(parts, func(i, j int) bool { return aws.ToInt32(parts[i].PartNumber) < aws.ToInt32(parts[j].PartNumber) })
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// checkPartList rejects an empty list and part numbers out of range or not
// strictly ascending, before asking S3.
func checkPartList(parts []backend.Part) error {
	if len(parts) == 0 {
		return fmt.Errorf("%w: no parts", backend.ErrPrecondition)
	}
	prev := int32(0)
	for _, p := range parts {
		if p.Number <= prev || p.Number > maxParts {
			return fmt.Errorf("%w: part %d out of order or range", backend.ErrPrecondition, p.Number)
		}
		prev = p.Number
	}
	return nil
}

// AbortMultipart implements backend.Backend with AbortMultipartUpload.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	if err != nil {
		return fmt.Errorf("s3store: abort multipart %q: %w", key, mapErr(err))
	}
	return nil
}
