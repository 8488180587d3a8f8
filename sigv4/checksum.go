package sigv4

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
	"sync"
)

// Checksums S3 verifies on uploads, sent as Content-MD5, as an
// x-amz-checksum-* header or as a trailing header of an aws-chunked body
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
// On the wire each is the base64 of the big-endian digest.

// ChecksumAlgorithm names a checksum algorithm.
type ChecksumAlgorithm string

// The checksum algorithms.
const (
	ChecksumCRC32     ChecksumAlgorithm = "CRC32"
	ChecksumCRC32C    ChecksumAlgorithm = "CRC32C"
	ChecksumCRC64NVME ChecksumAlgorithm = "CRC64NVME"
	ChecksumSHA1      ChecksumAlgorithm = "SHA1"
	ChecksumSHA256    ChecksumAlgorithm = "SHA256"
	ChecksumMD5       ChecksumAlgorithm = "MD5" // Content-MD5
)

// Header returns the lowercase name of the header carrying a checksum of a:
// "x-amz-checksum-crc32", …, or "content-md5".
func (a ChecksumAlgorithm) Header() string {
	if a == ChecksumMD5 {
		return "content-md5"
	}
	return "x-amz-checksum-" + strings.ToLower(string(a))
}

// size returns the digest length of a in bytes.
func (a ChecksumAlgorithm) size() int {
	switch a {
	case ChecksumCRC32, ChecksumCRC32C:
		return 4
	case ChecksumCRC64NVME:
		return 8
	case ChecksumSHA1:
		return sha1.Size
	case ChecksumMD5:
		return md5.Size
	}
	return sha256.Size
}

// New returns a hash computing a.
func (a ChecksumAlgorithm) New() hash.Hash {
	switch a {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case ChecksumCRC64NVME:
		return NewCRC64NVME()
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumMD5:
		return md5.New()
	}
	return sha256.New()
}

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xad93d23594c93659, bit
// reversed as hash/crc64 wants it. With crc64's all-ones initial value and
// final inversion this is CRC-64/NVME: "123456789" sums to 0xae8b14860a799888.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// crc64NVMETable is built once, on first use, and never changes.
var crc64NVMETable = sync.OnceValue(func() *crc64.Table { return crc64.MakeTable(crc64NVMEPoly) })

// NewCRC64NVME returns a hash computing CRC-64/NVME, the checksum S3 uses by
// default for new objects.
func NewCRC64NVME() hash.Hash64 { return crc64.New(crc64NVMETable()) }

// Checksum is a checksum computed over a body.
type Checksum struct {
	Algorithm ChecksumAlgorithm
	Value     string // base64 of the big-endian digest, as on the wire
}

// checksumByHeader returns the algorithm of a lowercase x-amz-checksum-*
// header name.
func checksumByHeader(name string) (ChecksumAlgorithm, bool) {
	switch name {
	case "x-amz-checksum-crc32":
		return ChecksumCRC32, true
	case "x-amz-checksum-crc32c":
		return ChecksumCRC32C, true
	case "x-amz-checksum-crc64nvme":
		return ChecksumCRC64NVME, true
	case "x-amz-checksum-sha1":
		return ChecksumSHA1, true
	case "x-amz-checksum-sha256":
		return ChecksumSHA256, true
	}
	return "", false
}

// expectedSum is a checksum the client announced.
type expectedSum struct {
	alg     ChecksumAlgorithm
	want    []byte // decoded digest; for a trailer, known only at the end
	trailer bool
}

// parseChecksumHeaders reads Content-MD5, the x-amz-checksum-* header (at most
// one) and x-amz-trailer (at most one checksum, and only when the payload
// mode has trailers).
func parseChecksumHeaders(h http.Header, trailers bool) ([]expectedSum, []string, error) {
	var sums []expectedSum
	if v := headerValues(h, "content-md5"); len(v) > 0 {
		d, ok := decodeChecksum(ChecksumMD5, v[0])
		if !ok {
			return nil, nil, ErrInvalidDigest.clone()
		}
		sums = append(sums, expectedSum{alg: ChecksumMD5, want: d})
	}
	amz := 0
	const prefix = "x-amz-checksum-"
	for k, v := range h {
		if len(k) <= len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
			continue
		}
		a, ok := checksumByHeader(strings.ToLower(k))
		if !ok || len(v) == 0 {
			continue
		}
		if amz++; amz > 1 {
			return nil, nil, errMultipleChecksums()
		}
		d, ok := decodeChecksum(a, v[0])
		if !ok {
			return nil, nil, ErrInvalidRequest.withf("Value for %s header is invalid.", a.Header())
		}
		sums = append(sums, expectedSum{alg: a, want: d})
	}
	var names []string
	for _, v := range headerValues(h, "x-amz-trailer") {
		for _, n := range strings.Split(v, ",") {
			if n = strings.ToLower(strings.TrimSpace(n)); n == "" {
				continue
			}
			a, ok := checksumByHeader(n)
			switch {
			case !trailers:
				return nil, nil, ErrInvalidRequest.with("x-amz-trailer is only allowed with a STREAMING-…-TRAILER x-amz-content-sha256.")
			case !ok:
				return nil, nil, ErrInvalidRequest.withf("The value specified in the x-amz-trailer header is not supported: %s", n)
			}
			if amz++; amz > 1 {
				return nil, nil, errMultipleChecksums()
			}
			names = append(names, n)
			sums = append(sums, expectedSum{alg: a, trailer: true})
		}
	}
	return sums, names, nil
}

func errMultipleChecksums() *Error {
	return ErrInvalidRequest.with("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
}

// decodeChecksum decodes a base64 checksum value of algorithm a.
func decodeChecksum(a ChecksumAlgorithm, v string) ([]byte, bool) {
	d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	return d, err == nil && len(d) == a.size()
}

// checksumMismatch is the BadDigest S3 answers when a checksum differs.
func checksumMismatch(a ChecksumAlgorithm) *Error {
	if a == ChecksumMD5 {
		return ErrBadDigest.clone()
	}
	return ErrBadDigest.withf("The %s you specified did not match the calculated checksum.", a)
}
