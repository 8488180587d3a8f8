package sigv4

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
)

// Run with
//
//	go test -run '^$' -bench . -benchmem ./sigv4/
//
// BenchmarkChunked/* against BenchmarkSHA256 gives the cost of verifying an
// aws-chunked body relative to merely hashing its bytes.

func BenchmarkVerifyHeader(b *testing.B) {
	f := baseFixture()
	f.header.Set("Content-Type", "application/octet-stream")
	r, _ := f.sign(b)
	v := New(Options{})
	now := f.now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, testSecrets, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPresigned(b *testing.B) {
	r, _ := presignedGET().sign(b)
	v := New(Options{})
	now := presignedGET().now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, testSecrets, now); err != nil {
			b.Fatal(err)
		}
	}
}

const benchBodySize = 8 << 20

func benchPayload() []byte {
	p := make([]byte, benchBodySize)
	fillRandom(rand.New(rand.NewPCG(1, 1)), p)
	return p
}

// drain reads r the way a backend upload does, with a 32 KiB buffer.
func drain(b *testing.B, r io.Reader, buf []byte) {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunked(b *testing.B) {
	cases := []struct {
		name  string
		mode  string
		chunk int
		alg   ChecksumAlgorithm
	}{
		{"signed_64KiB_chunks", streamingPayload, 64 << 10, ""},
		{"signed_1MiB_chunks", streamingPayload, 1 << 20, ""},
		{"signed_trailer_crc32c_64KiB_chunks", streamingPayloadTrailer, 64 << 10, ChecksumCRC32C},
		{"unsigned_trailer_crc32_one_chunk", streamingUnsignedPayloadTrail, 0, ChecksumCRC32},
		{"unsigned_trailer_crc64nvme_one_chunk", streamingUnsignedPayloadTrail, 0, ChecksumCRC64NVME},
	}
	payload := benchPayload()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			f := signedPUT()
			f.body, f.mode, f.chunk, f.trailer = payload, tc.mode, tc.chunk, tc.alg
			r, wire := f.sign(b)
			v := New(Options{})
			c, err := v.Verify(r, testSecrets, f.now())
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			src := bytes.NewReader(wire)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(wire)
				body, err := v.Body(c, r, src)
				if err != nil {
					b.Fatal(err)
				}
				drain(b, body, buf)
			}
		})
	}
}

// BenchmarkCopySHA256 is the floor of any verifying reader: copying the
// payload out of a bytes.Reader into a 32 KiB buffer, then hashing it.
func BenchmarkCopySHA256(b *testing.B) {
	payload := benchPayload()
	h := sha256.New()
	buf := make([]byte, 32<<10)
	src := bytes.NewReader(payload)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(payload)
		h.Reset()
		for {
			n, err := src.Read(buf)
			h.Write(buf[:n])
			if err != nil {
				break
			}
		}
		h.Sum(nil)
	}
}

// BenchmarkSHA256 is the baseline: crypto/sha256 over the same payload, in
// the same 32 KiB pieces.
func BenchmarkSHA256(b *testing.B) {
	payload := benchPayload()
	h := sha256.New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		h.Reset()
		for off := 0; off < len(payload); off += 32 << 10 {
			h.Write(payload[off:min(off+32<<10, len(payload))])
		}
		h.Sum(nil)
	}
}
