package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// readUntilError reads like a committing consumer: it keeps the bytes and
// stops at the first error.
func readUntilError(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// TestBodyFailsBeforeEOF checks the reader contract: a body that fails a
// check never yields io.EOF, so a consumer committing on io.EOF never commits.
func TestBodyFailsBeforeEOF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		base func() fixture
		pre  func(*fixture)
		post func(*[]byte)
		code string
	}{
		{"signed sha256, last byte changed", signedPUT, nil, func(w *[]byte) { (*w)[len(*w)-1] ^= 1 }, "XAmzContentSHA256Mismatch"},
		{"Content-MD5 of other bytes", signedPUT, func(f *fixture) { f.mode = unsignedPayload; f.header.Set("Content-Md5", contentMD5(nil)) }, nil, "BadDigest"},
		{"final chunk signature changed", func() fixture { return chunkedPUT(streamingPayload) }, nil, flipLast(";chunk-signature="), "SignatureDoesNotMatch"},
		{"trailer signature changed", func() fixture { return chunkedPUT(streamingPayloadTrailer) }, nil, flipLast("x-amz-trailer-signature:"), "SignatureDoesNotMatch"},
		{"trailing checksum changed", func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, nil, flipLast("x-amz-checksum-crc32:"), "BadDigest"},
	}
	v := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.base()
			if tt.pre != nil {
				tt.pre(&f)
			}
			r, wire := f.sign(t)
			wire = bytes.Clone(wire)
			if tt.post != nil {
				tt.post(&wire)
			}
			c, err := v.Verify(r, testSecrets, f.now())
			if err != nil {
				t.Fatal(err)
			}
			b, err := v.Body(c, r, bytes.NewReader(wire))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readUntilError(b)
			if err == io.EOF || errCode(err) != tt.code {
				t.Fatalf("read %d bytes, then %v; want %s", len(got), err, tt.code)
			}
			if _, again := b.Read(make([]byte, 10)); again != err || b.Checksums() != nil {
				t.Errorf("error not sticky (%v) or checksums set", again)
			}
		})
	}
}

// flipLast changes the byte after the last occurrence of marker.
func flipLast(marker string) func(*[]byte) {
	return func(w *[]byte) {
		i := bytes.LastIndex(*w, []byte(marker)) + len(marker)
		(*w)[i] ^= 1
	}
}

// TestBodyReadShapes reads verified bodies through one-byte and odd-sized
// reads, and with iotest.TestReader.
func TestBodyReadShapes(t *testing.T) {
	t.Parallel()
	v := New(Options{})
	for _, mode := range []string{"", streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrail} {
		f := chunkedPUT(mode)
		f.chunk = 8192
		if mode == "" {
			f = signedPUT()
		}
		r, wire := f.sign(t)
		c, err := v.Verify(r, testSecrets, f.now())
		if err != nil {
			t.Fatal(err)
		}
		t.Run("one byte at a time "+mode, func(t *testing.T) {
			b, _ := v.Body(c, r, iotest.OneByteReader(bytes.NewReader(wire)))
			got, err := io.ReadAll(iotest.OneByteReader(b))
			if err != nil || !bytes.Equal(got, f.body) {
				t.Errorf("got %d bytes, %v", len(got), err)
			}
		})
		t.Run("iotest "+mode, func(t *testing.T) {
			b, _ := v.Body(c, r, iotest.HalfReader(bytes.NewReader(wire)))
			if err := iotest.TestReader(b, f.body); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBodyTransportError passes a broken connection through unchanged.
func TestBodyTransportError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, mode := range []string{"", streamingPayload} {
		f := chunkedPUT(mode)
		if mode == "" {
			f = signedPUT()
		}
		r, wire := f.sign(t)
		v := New(Options{})
		c, _ := v.Verify(r, testSecrets, f.now())
		b, _ := v.Body(c, r, io.MultiReader(bytes.NewReader(wire[:20000]), iotest.ErrReader(boom)))
		if _, err := io.ReadAll(b); !errors.Is(err, boom) {
			t.Errorf("%q: err = %v, want %v", mode, err, boom)
		}
	}
}

// TestBodyAnonymous reads bodies of requests without a credential.
func TestBodyAnonymous(t *testing.T) {
	t.Parallel()
	payload := []byte("hello, world")
	chunked := []byte("c\r\nhello, world\r\n0\r\nx-amz-checksum-crc32:" + checksumOf(ChecksumCRC32, payload) + "\r\n\r\n")
	tests := []struct {
		name   string
		header http.Header
		wire   []byte
		code   string
	}{
		{"no header", http.Header{"Content-Length": {"12"}}, payload, ""},
		{"hex sha256", http.Header{"X-Amz-Content-Sha256": {sha256Hex(payload)}}, payload, ""},
		{"hex sha256 of other bytes", http.Header{"X-Amz-Content-Sha256": {emptySHA256}}, payload, "XAmzContentSHA256Mismatch"},
		{"unsigned trailer", http.Header{"X-Amz-Content-Sha256": {streamingUnsignedPayloadTrail}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}}, chunked, ""},
		{"signed streaming needs a credential", http.Header{"X-Amz-Content-Sha256": {streamingPayload}}, chunked, "InvalidRequest"},
		{"invalid x-amz-content-sha256", http.Header{"X-Amz-Content-Sha256": {"sha256"}}, payload, "InvalidArgument"},
		{"Content-MD5", http.Header{"Content-Md5": {contentMD5(payload)}}, payload, ""},
	}
	v := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, b, err := readBody(v, Credential{}, Request{Method: "PUT", RawPath: "/b/k", Header: tt.header}, tt.wire)
			if errCode(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			if err == nil && !bytes.Equal(got, payload) {
				t.Errorf("got %q", got)
			}
			if tt.name == "no header" && b.Size() != 12 {
				t.Errorf("Size = %d", b.Size())
			}
		})
	}
}

// TestChunkFraming covers framing limits with hand-written unsigned bodies.
func TestChunkFraming(t *testing.T) {
	t.Parallel()
	trailer := func(lines ...string) string { return "3\r\nabc\r\n0\r\n" + strings.Join(lines, "") }
	crc := "x-amz-checksum-crc32:" + checksumOf(ChecksumCRC32, []byte("abc"))
	tests := []struct{ name, wire, code string }{
		{"valid", trailer(crc+"\r\n", "\r\n"), ""},
		{"trailer line ends with LF only", trailer(crc+"\n", "\n"), ""},
		{"body ends after the last trailer line, without CRLF", trailer(crc), ""},
		{"chunk extensions are ignored when unsigned", "3;ext=1\r\nabc\r\n0\r\n" + crc + "\r\n\r\n", ""},
		{"trailer line too long", trailer("x-amz-meta:" + strings.Repeat("a", chunkBufferSize) + "\r\n"), "MalformedTrailerError"},
		{"trailer repeated", trailer(crc+"\r\n", crc+"\r\n", "\r\n"), "MalformedTrailerError"},
		{"trailer signature when unsigned", trailer(crc+"\r\n", "x-amz-trailer-signature:"+emptySHA256+"\r\n", "\r\n"), "MalformedTrailerError"},
		{"chunk header too long", strings.Repeat("0", chunkBufferSize+1) + "\r\n", "IncompleteBody"},
		{"empty chunk size", "\r\nabc\r\n", "IncompleteBody"},
		{"empty body", "", "IncompleteBody"},
		{"ends inside the final chunk header", "3\r\nabc\r\n0", "IncompleteBody"},
		{"ends after one byte of CRLF", "3\r\nabc\r", "IncompleteBody"},
	}
	v := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"X-Amz-Content-Sha256": {streamingUnsignedPayloadTrail}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}}
			got, _, err := readBody(v, Credential{}, Request{Method: "PUT", Header: h}, []byte(tt.wire))
			if errCode(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			if err == nil && string(got) != "abc" {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	h := NewCRC64NVME()
	h.Write([]byte("123456789"))
	if got := h.Sum64(); got != 0xae8b14860a799888 {
		t.Errorf("CRC64NVME(123456789) = %#x, want 0xae8b14860a799888", got)
	}
	tests := []struct {
		alg    ChecksumAlgorithm
		header string
		value  string // of "123456789", base64 of the big-endian digest
	}{
		{ChecksumCRC32, "x-amz-checksum-crc32", "y/Q5Jg=="},
		{ChecksumCRC32C, "x-amz-checksum-crc32c", "4waSgw=="},
		{ChecksumCRC64NVME, "x-amz-checksum-crc64nvme", "rosUhgp5mIg="},
		{ChecksumSHA1, "x-amz-checksum-sha1", "98O8HYCOBHMq32eZZczDTKeuNEE="},
		{ChecksumSHA256, "x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
		{ChecksumMD5, "content-md5", "JfnnlDI7RTiF9RgfG2JNCw=="},
	}
	for _, tt := range tests {
		if tt.alg.Header() != tt.header || checksumOf(tt.alg, []byte("123456789")) != tt.value {
			t.Errorf("%s: header %s, value %s", tt.alg, tt.alg.Header(), checksumOf(tt.alg, []byte("123456789")))
		}
	}
}
