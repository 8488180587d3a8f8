package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/supagate/storage/backend"
)

// unsignedPayload sends the body with x-amz-content-sha256: UNSIGNED-PAYLOAD,
// so the SDK does not read (and rewind) a streamed body to hash it first.
// Over HTTPS the SDK does this by itself; over plain HTTP it would fail on
// any body that cannot seek.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// Put implements backend.Backend. A body of known size up to PartSize
// streams in one PutObject; a larger or unknown-length body becomes a
// multipart upload (one PutObject when an unknown-length body turns out to
// fit in one part). Options.MD5 goes to S3 as Content-MD5 for single
// requests and is checked locally before completing a multipart upload. A
// body shorter or longer than a known size fails the request before S3 has
// all of it; a body longer than a known size is read only to size+1 bytes.
// The returned ETag is S3's.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, o backend.PutOptions) (backend.Info, error) {
	info, err := s.put(ctx, key, body, size, o)
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3store: put %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, key string, body io.Reader, size int64, o backend.PutOptions) (backend.Info, error) {
	if size >= 0 && size <= s.partSize {
		return s.putStream(ctx, key, body, size, o)
	}
	partSize := s.partSize
	if size > partSize*maxParts {
		partSize = (size + maxParts - 1) / maxParts
	}
	if size >= 0 {
		return s.putParts(ctx, key, body, size, partSize, nil, o)
	}
	buf := s.getBuf(partSize)
	n, err := io.ReadFull(ctxReader{ctx, body}, *buf)
	switch err {
	case nil: // a full part, and maybe more
		return s.putParts(ctx, key, body, -1, partSize, buf, o)
	case io.EOF, io.ErrUnexpectedEOF:
		defer s.putBuf(buf)
		return s.putBytes(ctx, key, (*buf)[:n], o)
	default:
		s.putBuf(buf)
		return backend.Info{}, err
	}
}

// putObjectInput is a PutObject without its body.
func (s *Store) putObjectInput(key string, size int64, o backend.PutOptions) *s3.PutObjectInput {
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, ContentLength: aws.Int64(size)}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if o.CacheControl != "" {
		in.CacheControl = &o.CacheControl
	}
	if o.MD5 != nil {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(o.MD5))
	}
	return in
}

// putStream sends body as it is read, in one PutObject of size bytes.
func (s *Store) putStream(ctx context.Context, key string, body io.Reader, size int64, o backend.PutOptions) (backend.Info, error) {
	in := s.putObjectInput(key, size, o)
	sr := &sizedReader{r: body, left: size, h: md5.New()}
	if size == 0 {
		if err := probeEOF(body); err != nil {
			return backend.Info{}, err
		}
	} else {
		in.Body = sr
	}
	out, err := s.client.PutObject(ctx, in, unsignedPayload)
	if berr := sr.finish(); berr != nil {
		// The body failed or had the wrong size, so S3 never got a whole
		// request and stored nothing.
		return backend.Info{}, berr
	}
	if err != nil {
		return backend.Info{}, mapErr(err)
	}
	if err := s.checkMD5(ctx, key, o, sr.h); err != nil {
		return backend.Info{}, err
	}
	if err := s.checkETag(ctx, key, checkable(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm), sr.h.Sum(nil)); err != nil {
		return backend.Info{}, err
	}
	return backend.Info{
		Size:         size,
		ETag:         aws.ToString(out.ETag),
		LastModified: serverTime(out.ResultMetadata),
		ContentType:  o.ContentType,
		End:          size - 1,
	}, nil
}

// putBytes stores a body already read into memory in one PutObject.
func (s *Store) putBytes(ctx context.Context, key string, b []byte, o backend.PutOptions) (backend.Info, error) {
	in := s.putObjectInput(key, int64(len(b)), o)
	in.Body = bytes.NewReader(b)
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return backend.Info{}, mapErr(err)
	}
	h := md5.New()
	h.Write(b)
	if err := s.checkMD5(ctx, key, o, h); err != nil {
		return backend.Info{}, err
	}
	if err := s.checkETag(ctx, key, checkable(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm), h.Sum(nil)); err != nil {
		return backend.Info{}, err
	}
	return backend.Info{
		Size:         int64(len(b)),
		ETag:         aws.ToString(out.ETag),
		LastModified: serverTime(out.ResultMetadata),
		ContentType:  o.ContentType,
		End:          int64(len(b)) - 1,
	}, nil
}

// checkMD5 compares the MD5 of what was sent with o.MD5. S3 checks
// Content-MD5 itself; this catches a service that ignores it, and removes
// what it stored.
func (s *Store) checkMD5(ctx context.Context, key string, o backend.PutOptions, h hash.Hash) error {
	if o.MD5 == nil || bytes.Equal(o.MD5, h.Sum(nil)) {
		return nil
	}
	_ = s.deleteBatch(context.WithoutCancel(ctx), []string{key})
	return fmt.Errorf("%w: content md5 mismatch", backend.ErrPrecondition)
}

// errCorrupt reports that the service answered with the MD5 of other bytes
// than were sent: they were damaged on the way (or by the service).
var errCorrupt = errors.New("the service's ETag is not the MD5 of the bytes sent")

// checkable returns the ETag of an answer when it can be checked against
// the MD5 of the bytes sent, and "" when not: with server-side encryption
// named in the answer, S3 (SSE-KMS, SSE-C) and S3-compatible services
// (MinIO's SSE-S3) may send ETags that are not MD5s.
func checkable(etag *string, sse types.ServerSideEncryption, sseC *string) string {
	if sse != "" || aws.ToString(sseC) != "" {
		return ""
	}
	return aws.ToString(etag)
}

// etagMismatch reports whether etag is a plain MD5 ETag that differs from
// sum. Other ETags (multipart, or none to check) pass.
func etagMismatch(etag string, sum []byte) bool {
	e := strings.ToLower(strings.Trim(etag, `"`))
	if len(e) != 2*md5.Size {
		return false
	}
	if _, err := hex.DecodeString(e); err != nil {
		return false
	}
	return e != hex.EncodeToString(sum)
}

// checkETag fails a put whose stored bytes are not the ones sent, and
// removes what was stored.
func (s *Store) checkETag(ctx context.Context, key, etag string, sum []byte) error {
	if !etagMismatch(etag, sum) {
		return nil
	}
	_ = s.deleteBatch(context.WithoutCancel(ctx), []string{key})
	return fmt.Errorf("%w: got %s, sent %x", errCorrupt, etag, sum)
}

// putParts stores body as a multipart upload of partSize parts. first, when
// not nil, is a full first part already read from body.
func (s *Store) putParts(ctx context.Context, key string, body io.Reader, size, partSize int64, first *[]byte, o backend.PutOptions) (backend.Info, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if o.CacheControl != "" {
		in.CacheControl = &o.CacheControl
	}
	created, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		if first != nil {
			s.putBuf(first)
		}
		return backend.Info{}, mapErr(err)
	}
	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	u := &partUploader{
		s: s, ctx: uctx, cancel: cancel, key: key, id: aws.ToString(created.UploadId),
		partSize: partSize, free: make(chan *[]byte, s.concurrency),
	}
	h := md5.New()
	total, err := u.run(ctxReader{uctx, body}, size, first, h)
	if err != nil {
		cancel(err)
	}
	u.wg.Wait()
	u.release()
	if err == nil {
		err = context.Cause(uctx)
	}
	if err == nil && o.MD5 != nil && !bytes.Equal(o.MD5, h.Sum(nil)) {
		err = fmt.Errorf("%w: content md5 mismatch", backend.ErrPrecondition)
	}
	if err != nil {
		s.abort(ctx, key, u.id)
		return backend.Info{}, err
	}
	out, err := s.complete(ctx, key, u.id, u.parts)
	if err != nil {
		s.abort(ctx, key, u.id)
		return backend.Info{}, err
	}
	return backend.Info{
		Size:         total,
		ETag:         aws.ToString(out.ETag),
		LastModified: serverTime(out.ResultMetadata),
		ContentType:  o.ContentType,
		End:          total - 1,
	}, nil
}

// abort ends an upload that failed, even when ctx is canceled; its own
// error is of no use to the caller, who already has the cause.
func (s *Store) abort(ctx context.Context, key, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &id})
}

// partUploader reads parts on the caller's goroutine and uploads each on
// its own, with at most Concurrency buffers in existence.
type partUploader struct {
	s        *Store
	ctx      context.Context
	cancel   context.CancelCauseFunc
	key, id  string
	partSize int64
	free     chan *[]byte // buffers not in use; capacity Concurrency
	made     int          // buffers allocated so far

	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []types.CompletedPart
}

// run reads body into parts and starts their uploads until EOF (size < 0)
// or size bytes. It returns the byte count; h gets the bytes.
func (u *partUploader) run(body io.Reader, size int64, first *[]byte, h hash.Hash) (int64, error) {
	var total int64
	for n := int32(1); ; n++ {
		b, m, last := first, int64(0), false
		if n == 1 && first != nil {
			u.made++
			m = int64(len(*first))
		} else {
			want := u.partSize
			if size >= 0 {
				if want = min(want, size-total); want == 0 {
					return total, probeEOF(body)
				}
			}
			var err error
			if b, err = u.buffer(); err != nil {
				return total, err
			}
			k, err := io.ReadFull(body, (*b)[:want])
			m = int64(k)
			switch {
			case (err == io.EOF || err == io.ErrUnexpectedEOF) && size >= 0:
				u.free <- b
				return total, fmt.Errorf("body is %d bytes, declared %d: %w", total+m, size, io.ErrUnexpectedEOF)
			case err == io.EOF:
				u.free <- b
				return total, nil
			case err == io.ErrUnexpectedEOF:
				last = true
			case err != nil:
				u.free <- b
				return total, err
			}
		}
		if n > maxParts {
			u.free <- b
			return total, fmt.Errorf("body exceeds %d parts of %d bytes", maxParts, u.partSize)
		}
		h.Write((*b)[:m])
		total += m
		u.send(n, b, m)
		if last {
			return total, nil
		}
	}
}

// buffer returns a free buffer, allocating one while fewer than Concurrency
// exist, else waiting for an upload to finish.
func (u *partUploader) buffer() (*[]byte, error) {
	select {
	case b := <-u.free:
		return b, nil
	default:
	}
	if u.made < u.s.concurrency {
		u.made++
		return u.s.getBuf(u.partSize), nil
	}
	select {
	case b := <-u.free:
		return b, nil
	case <-u.ctx.Done():
		return nil, context.Cause(u.ctx)
	}
}

// send uploads the first m bytes of b as part n and then frees b. A failure
// cancels the upload's context with the cause.
func (u *partUploader) send(n int32, b *[]byte, m int64) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { u.free <- b }()
		out, err := u.s.client.UploadPart(u.ctx, &s3.UploadPartInput{
			Bucket: &u.s.bucket, Key: &u.key, UploadId: &u.id, PartNumber: aws.Int32(n),
			Body: bytes.NewReader((*b)[:m]), ContentLength: aws.Int64(m),
		})
		if err != nil {
			u.cancel(fmt.Errorf("upload part %d: %w", n, mapErr(err)))
			return
		}
		if sum := md5.Sum((*b)[:m]); etagMismatch(checkable(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm), sum[:]) {
			u.cancel(fmt.Errorf("upload part %d: %w: got %s, sent %x", n, errCorrupt, aws.ToString(out.ETag), sum))
			return
		}
		u.mu.Lock()
		u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		u.mu.Unlock()
	}()
}

// release returns the free buffers to the store's pool. Call it after wg.Wait.
func (u *partUploader) release() {
	for {
		select {
		case b := <-u.free:
			u.s.putBuf(b)
		default:
			return
		}
	}
}

// getBuf returns a buffer of n bytes, from the pool when n is the part size.
func (s *Store) getBuf(n int64) *[]byte {
	if n == s.partSize {
		if b, ok := s.bufs.Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, n)
	return &b
}

// putBuf gives a buffer from getBuf back.
func (s *Store) putBuf(b *[]byte) {
	if int64(cap(*b)) == s.partSize {
		*b = (*b)[:s.partSize]
		s.bufs.Put(b)
	}
}

// errFinished is what a sizedReader returns once its request is over.
var errFinished = errors.New("s3store: read after the request finished")

// errTooLong reports a body longer than its declared size.
var errTooLong = errors.New("body longer than its declared size")

// sizedReader hands exactly left bytes of r to the SDK, hashing them. On a
// failure of r, or when r is shorter or longer than declared, it returns the
// error instead of the bytes read with it, so the HTTP request cannot
// complete and S3 stores nothing. It is locked because an HTTP transport
// may still read after the call that owns the request returned.
type sizedReader struct {
	mu   sync.Mutex
	r    io.Reader
	left int64
	h    hash.Hash
	err  error // sticky
}

func (s *sizedReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case err == io.EOF && s.left > 0:
		err = fmt.Errorf("body ended %d bytes short: %w", s.left, io.ErrUnexpectedEOF)
	case err == io.EOF:
		err = nil
	}
	if err == nil && s.left == 0 {
		err = probeEOF(s.r)
	}
	if err != nil {
		s.err = err
		return 0, err
	}
	s.h.Write(p[:n])
	return n, nil
}

// finish ends reading and returns the body's failure, if any.
func (s *sizedReader) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = errFinished
	return err
}

// probeEOF reads r to make sure it has nothing left, so that a Put never
// stores a prefix of a longer body.
func probeEOF(r io.Reader) error {
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return errTooLong
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
