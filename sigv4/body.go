package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"strings"
)

// BodyReader returns the decoded bytes of a request body while verifying
// them: the x-amz-content-sha256 digest, aws-chunked framing with chunk and
// trailer signatures, and the Content-MD5 and x-amz-checksum-* values from
// headers or trailers. A failed check is returned by Read in place of io.EOF,
// so a consumer that commits only after io.EOF never commits a bad body.
type BodyReader struct {
	src    io.Reader
	chunks *chunkReader // nil unless aws-chunked
	size   int64

	payload hash.Hash // SHA-256 of the body, for PayloadSHA256
	want    [32]byte
	sums    []runningSum
	err     error // sticky; io.EOF once every check passed
}

// runningSum is a checksum being computed and what it must equal.
type runningSum struct {
	expectedSum
	h   hash.Hash
	got []byte
}

// Body wraps body per the payload mode of c and the checksum headers of r,
// and returns the decoded bytes. For an anonymous request pass Credential{}:
// the mode then comes from x-amz-content-sha256 (signed streaming is refused)
// and checksums are still verified. The caller should drop "aws-chunked"
// from Content-Encoding before storing it.
func (v *Verifier) Body(c Credential, r Request, body io.Reader) (*BodyReader, error) {
	mode, digest := c.PayloadMode, c.payloadHash
	if c.AccessKey == "" {
		if p := first(r.Header, "X-Amz-Content-Sha256"); p != "" {
			m, err := parsePayloadMode(p)
			if err != nil {
				return nil, err
			}
			mode, digest = m, p
		}
		if mode == PayloadStreamingSigned || mode == PayloadStreamingSignedTrailer {
			return nil, ErrInvalidRequest.with("A signed aws-chunked body needs a signed request.")
		}
	}
	sums, trailers, err := parseChecksumHeaders(r.Header, mode == PayloadStreamingSignedTrailer || mode == PayloadStreamingUnsignedTrailer)
	if err != nil {
		return nil, err
	}
	b := &BodyReader{src: body, size: -1}
	if mode.Streaming() {
		if b.size, err = headerLength(r.Header, "X-Amz-Decoded-Content-Length"); err != nil {
			return nil, err
		}
		b.chunks = newChunkReader(body, c, mode, trailers, b.size)
		b.src = b.chunks
	} else if n, err := headerLength(r.Header, "Content-Length"); err == nil {
		b.size = n
	}
	if mode == PayloadSHA256 {
		hex.Decode(b.want[:], []byte(digest)) // checked by parsePayloadMode
		b.payload = sha256.New()
	}
	for _, s := range sums {
		b.sums = append(b.sums, runningSum{expectedSum: s, h: s.alg.New()})
	}
	return b, nil
}

// headerLength parses a length header; -1 when it is absent.
func headerLength(h map[string][]string, key string) (int64, error) {
	v := first(h, key)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return -1, ErrInvalidArgument.withf("%s is not a valid length.", strings.ToLower(key))
	}
	return n, nil
}

// Read returns decoded, verified-so-far bytes. It returns io.EOF only after
// every check passed, and the failed check otherwise.
func (b *BodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	if n > 0 {
		if b.payload != nil {
			b.payload.Write(p[:n])
		}
		for i := range b.sums {
			b.sums[i].h.Write(p[:n])
		}
	}
	if err == io.EOF {
		err = b.finish()
	}
	b.err = err
	return n, err
}

// finish compares what was computed with what was announced.
func (b *BodyReader) finish() error {
	if b.payload != nil {
		var sum [32]byte
		if !hmac.Equal(b.payload.Sum(sum[:0]), b.want[:]) {
			return ErrXAmzContentSHA256Mismatch.clone()
		}
	}
	for i := range b.sums {
		s := &b.sums[i]
		s.got = s.h.Sum(nil)
		if s.trailer {
			v := b.chunks.trailer[b.chunks.lookup(s.alg.Header())].value
			d, ok := decodeChecksum(s.alg, v)
			if !ok {
				return ErrInvalidRequest.withf("Value for %s trailing header is invalid.", s.alg.Header())
			}
			s.want = d
		}
		if !hmac.Equal(s.got, s.want) {
			return checksumMismatch(s.alg)
		}
	}
	return io.EOF
}

// Size returns the decoded body length announced by the client
// (x-amz-decoded-content-length for aws-chunked bodies, else Content-Length),
// or -1 when unknown. Read enforces it for aws-chunked bodies.
func (b *BodyReader) Size() int64 { return b.size }

// Checksums returns the checksums computed over the body, one per checksum
// the client sent (Content-MD5, x-amz-checksum-* header or trailer). They
// are set once Read has returned io.EOF, and are nil before.
func (b *BodyReader) Checksums() []Checksum {
	if b.err != io.EOF {
		return nil
	}
	out := make([]Checksum, 0, len(b.sums))
	for _, s := range b.sums {
		out = append(out, Checksum{Algorithm: s.alg, Value: base64.StdEncoding.EncodeToString(s.got)})
	}
	return out
}
