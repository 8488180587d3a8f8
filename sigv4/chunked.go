package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"slices"
	"strings"
)

// The aws-chunked decoder, for the STREAMING-* payload modes
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html). The body is a series of chunks
//
//	<hex size>[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n
//
// ended by a chunk of size 0, then either "\r\n" or, with trailers, lines
// "name:value\r\n" (for signed trailers the last is
// "x-amz-trailer-signature:<64 hex>") and a final "\r\n". Signature n is
// HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" signature n-1
// "\n" sha256("") "\n" sha256(chunk n)), starting from the request signature.

const (
	minChunkSize    = 8 << 10 // every signed chunk but the last
	chunkBufferSize = 4 << 10 // bounds a chunk or trailer line
	maxSizeDigits   = 15      // a chunk is at most 2^60 bytes
	maxTrailers     = 8
)

// trailerSignature is the trailing header carrying the trailer signature.
const trailerSignature = "x-amz-trailer-signature"

// field is one trailing header.
type field struct{ name, value string }

// chunkReader decodes an aws-chunked body, checking each chunk's signature
// when its last byte has been read and before any byte that follows it is
// returned. It returns io.EOF only after the final chunk, the trailers and
// their signature have been checked.
type chunkReader struct {
	br       *bufio.Reader
	signed   bool     // chunks carry chained signatures
	trailers bool     // a trailer section follows the final chunk
	declared []string // x-amz-trailer names
	decoded  int64    // x-amz-decoded-content-length, -1 if absent

	key     [32]byte
	amzDate string
	scope   string
	prev    [64]byte  // previous signature, at first the request's
	want    [64]byte  // signature announced for the current chunk
	data    hash.Hash // SHA-256 of the current chunk
	sum     [32]byte
	sts     []byte // string-to-sign scratch

	left     int64 // bytes of the current chunk still to read
	inChunk  bool  // the current chunk's closing CRLF is still to read
	prevSize int64 // size of the previous data chunk, -1 before the first
	total    int64
	trailer  []field
	err      error // sticky; io.EOF at the end
}

func newChunkReader(body io.Reader, c Credential, mode PayloadMode, declared []string, decoded int64) *chunkReader {
	r := &chunkReader{
		br:       bufio.NewReaderSize(body, chunkBufferSize),
		signed:   mode == PayloadStreamingSigned || mode == PayloadStreamingSignedTrailer,
		trailers: mode == PayloadStreamingSignedTrailer || mode == PayloadStreamingUnsignedTrailer,
		declared: declared,
		decoded:  decoded,
		prevSize: -1,
	}
	if r.signed {
		r.key, r.amzDate, r.scope = c.key, c.amzDate, c.scope
		copy(r.prev[:], c.signature)
		r.data = sha256.New()
		r.sts = make([]byte, 0, 384)
	}
	return r
}

// Read returns decoded bytes.
func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.left == 0 {
		if r.err = r.advance(); r.err != nil {
			return 0, r.err
		}
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= int64(n)
	if r.signed {
		r.data.Write(p[:n])
	}
	if err != nil {
		r.err = truncated(err)
	}
	return n, r.err
}

// truncated turns an early io.EOF into IncompleteBody.
func truncated(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrIncompleteBody.with("The aws-chunked body ended before its final chunk.")
	}
	return err
}

// advance finishes the current chunk and starts the next one.
func (r *chunkReader) advance() error {
	if r.inChunk {
		if err := r.crlf(); err != nil {
			return err
		}
		if r.signed && !r.verify(false) {
			return ErrSignatureDoesNotMatch.with("The chunk signature does not match.")
		}
		r.inChunk = false
	}
	size, err := r.header()
	if err != nil {
		return err
	}
	if size == 0 {
		return r.end()
	}
	if r.signed && r.prevSize >= 0 && r.prevSize < minChunkSize {
		return ErrInvalidChunkSizeError.clone()
	}
	r.prevSize = size
	r.total += size
	if r.decoded >= 0 && r.total > r.decoded {
		return ErrIncompleteBody.with("The aws-chunked body is longer than x-amz-decoded-content-length.")
	}
	r.left, r.inChunk = size, true
	if r.signed {
		r.data.Reset()
	}
	return nil
}

func (r *chunkReader) crlf() error {
	cr, err := r.br.ReadByte()
	if err == nil {
		var lf byte
		if lf, err = r.br.ReadByte(); err == nil && (cr != '\r' || lf != '\n') {
			return ErrIncompleteBody.with("A chunk is not followed by CRLF.")
		}
	}
	return truncated(err)
}

// header reads a chunk header line and returns the chunk size; for signed
// chunks the announced signature goes to r.want.
func (r *chunkReader) header() (int64, error) {
	line, err := r.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return 0, ErrIncompleteBody.with("A chunk header is too long.")
	case err != nil:
		return 0, truncated(err)
	case len(line) < 2 || line[len(line)-2] != '\r':
		return 0, ErrIncompleteBody.with("A chunk header does not end with CRLF.")
	}
	line = line[:len(line)-2]
	digits, ext, hasExt := bytes.Cut(line, []byte{';'})
	size, ok := parseChunkSize(digits)
	if !ok {
		if len(digits) > maxSizeDigits && isHexString(digits) {
			return 0, ErrInvalidChunkSizeError.with("The chunk size is too large.")
		}
		return 0, ErrIncompleteBody.with("A chunk size is not a hexadecimal number.")
	}
	if r.signed {
		sig, ok := bytes.CutPrefix(ext, []byte("chunk-signature="))
		if !hasExt || !ok || len(sig) != len(r.want) {
			return 0, ErrIncompleteBody.with("A chunk header lacks its chunk-signature.")
		}
		copy(r.want[:], sig)
	}
	return size, nil
}

func parseChunkSize(digits []byte) (int64, bool) {
	if len(digits) == 0 || len(digits) > maxSizeDigits {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if !isHex(c) {
			return 0, false
		}
		n = n<<4 | int64(unhex(c))
	}
	return n, true
}

func isHexString(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// end checks the final chunk, the length and the trailers.
func (r *chunkReader) end() error {
	if r.signed {
		r.data.Reset()
		if !r.verify(false) {
			return ErrSignatureDoesNotMatch.with("The final chunk signature does not match.")
		}
	}
	if r.decoded >= 0 && r.total != r.decoded {
		return ErrIncompleteBody.with("The aws-chunked body is shorter than x-amz-decoded-content-length.")
	}
	if r.trailers {
		if err := r.readTrailers(); err != nil {
			return err
		}
	} else if err := r.crlf(); err != nil {
		return err
	}
	return io.EOF
}

// readTrailers reads the trailing headers and checks their signature. The
// final empty line may be missing at the end of the body.
func (r *chunkReader) readTrailers() error {
	haveSig := false
	for {
		line, err := r.br.ReadSlice('\n')
		eof := err == io.EOF
		switch {
		case err == bufio.ErrBufferFull:
			return ErrMalformedTrailer.with("A trailing header is too long.")
		case err != nil && !eof:
			return err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		value = bytes.TrimSpace(value)
		switch {
		case !ok || haveSig:
			return ErrMalformedTrailer.clone()
		case n == trailerSignature && r.signed && len(value) == len(r.want):
			copy(r.want[:], value)
			haveSig = true
		case !slices.Contains(r.declared, n) || r.lookup(n) >= 0 || len(r.trailer) >= maxTrailers:
			return ErrMalformedTrailer.withf("The trailing header %q was not declared in x-amz-trailer.", n)
		default:
			r.trailer = append(r.trailer, field{n, string(value)})
		}
		if eof {
			break
		}
	}
	if r.signed && !haveSig {
		return ErrMalformedTrailer.with("The trailing headers lack x-amz-trailer-signature.")
	}
	if r.signed && !r.verify(true) {
		return ErrSignatureDoesNotMatch.with("The trailer signature does not match.")
	}
	for _, n := range r.declared {
		if r.lookup(n) < 0 {
			return ErrMalformedTrailer.withf("The trailing header %q declared in x-amz-trailer is missing.", n)
		}
	}
	return nil
}

// lookup returns the index of trailing header n, or -1.
func (r *chunkReader) lookup(n string) int {
	return slices.IndexFunc(r.trailer, func(f field) bool { return f.name == n })
}

// verify checks r.want against the signature of the chunk hashed in r.data,
// or of the trailers, and makes it the previous signature.
func (r *chunkReader) verify(trailer bool) bool {
	b := r.sts[:0]
	if trailer {
		slices.SortFunc(r.trailer, func(x, y field) int { return strings.Compare(x.name, y.name) })
		r.data.Reset()
		for _, f := range r.trailer {
			io.WriteString(r.data, f.name+":"+f.value+"\n")
		}
		b = append(b, "AWS4-HMAC-SHA256-TRAILER\n"...)
	} else {
		b = append(b, "AWS4-HMAC-SHA256-PAYLOAD\n"...)
	}
	b = append(b, r.amzDate...)
	b = append(b, '\n')
	b = append(b, r.scope...)
	b = append(b, '\n')
	b = append(b, r.prev[:]...)
	b = append(b, '\n')
	if !trailer {
		b = append(b, emptySHA256+"\n"...)
	}
	b = hex.AppendEncode(b, r.data.Sum(r.sum[:0]))
	r.sts = b
	sum := mac(r.key[:], b)
	var got [64]byte
	hex.Encode(got[:], sum[:])
	if !hmac.Equal(got[:], r.want[:]) {
		return false
	}
	r.prev = r.want
	return true
}
