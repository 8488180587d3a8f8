package sigv4

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

// keyPieces are the bits random object keys are made of: reserved
// characters, spaces, "+", "%", unicode, empty segments ("//").
var keyPieces = []string{
	"a", "Z", "0", "-", "_", ".", "~", " ", "  ", "+", "%", "%41", "!", "*", "'", "(", ")", ";", ":", "@",
	"&", "=", "$", ",", "?", "#", "[", "]", "é", "ä", "中文", "😀", "/", "//", "photos/", "Screenshot 2024-01-01 at 10.00.00",
}

var queryPieces = []string{"a", "b", "Z9", "-", "_", ".", "~", " ", "+", "/", "%", "&", "=", "é", "中", ";", ":", "x y"}

func randomString(rng *rand.Rand, pieces []string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// s3Escape encodes a key the way S3 clients do: every byte but the
// unreserved ones and "/"; lower is for clients that use lowercase hex.
func s3Escape(s string, slash, lower bool) string {
	var b strings.Builder
	hexd := "0123456789ABCDEF"
	if lower {
		hexd = "0123456789abcdef"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || slash && c == '/' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// randomFixture builds a random request: method, key, query set, header set,
// body size, payload mode, region, session token, header or presigned auth.
func randomFixture(rng *rand.Rand) fixture {
	f := baseFixture()
	f.method = []string{"GET", "PUT", "POST", "DELETE", "HEAD"}[rng.IntN(5)]
	key := randomString(rng, keyPieces, 1+rng.IntN(6))
	if rng.IntN(4) == 0 {
		key += "/"
	}
	f.path = "/bucket/" + s3Escape(key, true, false)
	var q []string
	for range rng.IntN(5) {
		k := randomString(rng, queryPieces, 1+rng.IntN(3))
		switch rng.IntN(3) {
		case 0:
			q = append(q, s3Escape(k, false, rng.IntN(2) == 0)) // valueless
		default:
			q = append(q, s3Escape(k, false, false)+"="+s3Escape(randomString(rng, queryPieces, rng.IntN(4)), false, rng.IntN(2) == 0))
		}
	}
	if rng.IntN(3) == 0 {
		q = append(q, "x-id=GetObject", "uploads")
	}
	f.query = strings.Join(q, "&")
	f.host = []string{"s3.example.com", "localhost:9000", "127.0.0.1:8333", "[::1]:9000", "bucket.s3.example.com"}[rng.IntN(5)]
	f.header = http.Header{}
	for i := range rng.IntN(4) {
		f.header.Set(fmt.Sprintf("X-Amz-Meta-K%d", i), strings.Repeat(" ", rng.IntN(2))+randomString(rng, []string{"v", " ", "  ", "x", "é", ","}, rng.IntN(6)))
	}
	if rng.IntN(2) == 0 {
		f.header.Add("X-Amz-Meta-Multi", "one")
		f.header.Add("X-Amz-Meta-Multi", "two  three")
	}
	if rng.IntN(2) == 0 {
		f.header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if f.method == "PUT" || f.method == "POST" {
		sizes := []int{0, 1, 100, 8191, 65536 + 17, 1 << 20, 3<<20 + 5}
		f.body = make([]byte, sizes[rng.IntN(len(sizes))])
		fillRandom(rng, f.body)
		if rng.IntN(2) == 0 {
			f.header.Set("Content-Md5", contentMD5(f.body))
		}
		if rng.IntN(2) == 0 {
			a := []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256}[rng.IntN(5)]
			f.header.Set(a.Header(), checksumOf(a, f.body))
		}
	}
	if rng.IntN(3) == 0 {
		f.mode = unsignedPayload
	}
	f.region = []string{"us-east-1", "auto", "eu-central-1", ""}[rng.IntN(4)]
	if rng.IntN(10) == 0 {
		f.service = "s3vectors"
	}
	if rng.IntN(3) == 0 {
		f.token = "session/token+" + randomString(rng, queryPieces, 3)
	}
	if rng.IntN(3) == 0 {
		f.presign, f.expires, f.mode = true, 1+rng.IntN(604800), unsignedPayload
	}
	f.at = f.at.Add(time.Duration(rng.IntN(1000)) * time.Hour)
	return f
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// TestRoundTripSDK signs random requests with aws-sdk-go-v2's Signer
// (SignHTTP and PresignHTTP) and verifies them, bodies included.
func TestRoundTripSDK(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 2))
	v := New(Options{})
	for i := range 400 {
		f := randomFixture(rng)
		t.Run(fmt.Sprintf("%03d_%s", i, f.method), func(t *testing.T) {
			r, wire := f.sign(t)
			c, got, b, err := verifyAll(v, r, wire, f.now())
			if err != nil {
				t.Fatalf("%v\nrequest: %+v\ncanonical:\n%s", err, r, CanonicalRequest(r, signedList(r), f.mode))
			}
			if c.AccessKey != testAccessKey || c.Region != f.region || c.Service != f.service || c.SessionToken != f.token || c.Presigned != f.presign {
				t.Errorf("credential = %+v", c)
			}
			if !bytes.Equal(got, f.body) {
				t.Errorf("body: got %d bytes, want %d", len(got), len(f.body))
			}
			for _, s := range b.Checksums() {
				if want := f.header.Get(s.Algorithm.Header()); s.Value != want {
					t.Errorf("%s = %s, want %s", s.Algorithm, s.Value, want)
				}
			}
		})
	}
}

// TestRoundTripChunked signs aws-chunked bodies in the three streaming modes:
// the seed with SignHTTP, each chunk with the SDK's stream signer, trailers
// as documented; sizes from empty to several MiB, in one chunk or many.
func TestRoundTripChunked(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	v := New(Options{})
	modes := []string{streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrail}
	algs := []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256}
	sizes := []int{0, 1, 8192, 65536, 65537, 200_000, 5<<20 + 3}
	for i := range 60 {
		f := baseFixture()
		f.method, f.query = "PUT", ""
		f.mode = modes[i%len(modes)]
		f.body = make([]byte, sizes[rng.IntN(len(sizes))])
		fillRandom(rng, f.body)
		f.chunk = []int{0, 8192, 65536, 1 << 20}[rng.IntN(4)]
		if f.mode != streamingPayload {
			f.trailer = algs[rng.IntN(len(algs))]
		}
		name := fmt.Sprintf("%02d_%s_%d_bytes_in_chunks_of_%d", i, strings.ToLower(f.mode), len(f.body), f.chunk)
		t.Run(name, func(t *testing.T) {
			r, wire := f.sign(t)
			_, got, b, err := verifyAll(v, r, wire, f.now())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.body) {
				t.Fatalf("body: got %d bytes, want %d", len(got), len(f.body))
			}
			if b.Size() != int64(len(f.body)) {
				t.Errorf("Size = %d, want %d", b.Size(), len(f.body))
			}
			if f.trailer != "" {
				want := []Checksum{{f.trailer, checksumOf(f.trailer, f.body)}}
				if got := b.Checksums(); len(got) != 1 || got[0] != want[0] {
					t.Errorf("Checksums = %v, want %v", got, want)
				}
			}
		})
	}
}
