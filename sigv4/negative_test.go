package sigv4

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Base requests of the negative table, each valid as signed.
func headerGET() fixture { return baseFixture() }

func presignedGET() fixture {
	f := baseFixture()
	f.presign, f.expires, f.mode, f.header = true, 3600, unsignedPayload, nil
	return f
}

func signedPUT() fixture {
	f := baseFixture()
	f.method, f.query, f.body = "PUT", "", bytes.Repeat([]byte("0123456789"), 10_000)
	return f
}

func chunkedPUT(mode string) fixture {
	f := signedPUT()
	f.mode, f.chunk = mode, 64<<10
	if mode != streamingPayload {
		f.trailer = ChecksumCRC32
	}
	return f
}

// Mutations applied after signing.
func setHeader(k, v string) func(*Request, *[]byte) {
	return func(r *Request, _ *[]byte) { r.Header.Set(k, v) }
}

func delHeader(k string) func(*Request, *[]byte) {
	return func(r *Request, _ *[]byte) { r.Header.Del(k) }
}

func editAuth(old, new string) func(*Request, *[]byte) {
	return func(r *Request, _ *[]byte) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
	}
}

func editQuery(old, new string) func(*Request, *[]byte) {
	return func(r *Request, _ *[]byte) { r.RawQuery = strings.Replace(r.RawQuery, old, new, 1) }
}

func editWire(old, new string) func(*Request, *[]byte) {
	return func(_ *Request, w *[]byte) { *w = bytes.Replace(*w, []byte(old), []byte(new), 1) }
}

// flipAfter changes the byte following the first occurrence of marker.
func flipAfter(marker string) func(*Request, *[]byte) {
	return func(_ *Request, w *[]byte) {
		b := bytes.Clone(*w)
		i := bytes.Index(b, []byte(marker)) + len(marker)
		b[i] ^= 1
		*w = b
	}
}

// TestNegative mutates one thing per row of a valid request and expects the
// S3 error code ("" when the mutation must still verify).
func TestNegative(t *testing.T) {
	t.Parallel()
	crc := checksumOf(ChecksumCRC32, signedPUT().body)
	tests := []struct {
		name string
		base func() fixture
		pre  func(*fixture)
		post func(*Request, *[]byte)
		code string
	}{
		// Header values and the signed header list.
		{name: "signed header value changed", base: headerGET, post: setHeader("X-Amz-Meta-Color", "red"), code: "SignatureDoesNotMatch"},
		{name: "signed header value with other spacing verifies", base: headerGET, post: setHeader("X-Amz-Meta-Color", "deep blue"), code: ""},
		{name: "signed header removed from the list", base: headerGET, post: editAuth(";range", ""), code: "SignatureDoesNotMatch"},
		{name: "signed header list without host", base: headerGET, post: editAuth("SignedHeaders=host;", "SignedHeaders="), code: "AuthorizationHeaderMalformed"},
		{name: "signed header list in upper case", base: headerGET, post: editAuth(";range", ";Range"), code: "AuthorizationHeaderMalformed"},
		{name: "session token changed", base: headerGET, pre: func(f *fixture) { f.token = "tok" }, post: setHeader("X-Amz-Security-Token", "other"), code: "SignatureDoesNotMatch"},
		{name: "host changed", base: headerGET, post: func(r *Request, _ *[]byte) { r.Host = "evil.example.com:9000" }, code: "SignatureDoesNotMatch"},
		{name: "host with a default port verifies", base: headerGET, pre: func(f *fixture) { f.host = "s3.example.com" }, post: func(r *Request, _ *[]byte) { r.Host += ":443" }, code: ""},
		// Date, scope and skew.
		{name: "x-amz-date changed by a second", base: headerGET, post: setHeader("X-Amz-Date", "20240506T070810Z"), code: "SignatureDoesNotMatch"},
		{name: "x-amz-date missing", base: headerGET, post: delHeader("X-Amz-Date"), code: "AccessDenied"},
		{name: "x-amz-date malformed", base: headerGET, post: setHeader("X-Amz-Date", "2024-05-06T07:08:09Z"), code: "AccessDenied"},
		{name: "request 16 minutes old", base: headerGET, pre: func(f *fixture) { f.skew = 15 * time.Minute }, code: "RequestTimeTooSkewed"},
		{name: "request 16 minutes ahead", base: headerGET, pre: func(f *fixture) { f.skew = -17 * time.Minute }, code: "RequestTimeTooSkewed"},
		{name: "credential date differs from x-amz-date", base: headerGET, post: editAuth("/20240506/", "/20240507/"), code: "AuthorizationHeaderMalformed"},
		{name: "credential date malformed", base: headerGET, post: editAuth("/20240506/", "/2024050x/"), code: "AuthorizationHeaderMalformed"},
		{name: "region changed", base: headerGET, post: editAuth("/us-east-1/", "/eu-west-1/"), code: "SignatureDoesNotMatch"},
		{name: "service changed", base: headerGET, post: editAuth("/s3/", "/s4/"), code: "SignatureDoesNotMatch"},
		{name: "terminator changed", base: headerGET, post: editAuth("/aws4_request", "/aws5_request"), code: "AuthorizationHeaderMalformed"},
		{name: "credential with too few parts", base: headerGET, post: editAuth("/s3/aws4_request", "/aws4_request"), code: "AuthorizationHeaderMalformed"},
		// Path and query.
		{name: "path byte changed", base: headerGET, post: func(r *Request, _ *[]byte) { r.RawPath = strings.Replace(r.RawPath, "2024", "2025", 1) }, code: "SignatureDoesNotMatch"},
		{name: "path sent unencoded verifies", base: headerGET, post: func(r *Request, _ *[]byte) { r.RawPath = strings.Replace(r.RawPath, "%20", " ", 1) }, code: ""},
		{name: "path with a doubled slash", base: headerGET, post: func(r *Request, _ *[]byte) { r.RawPath = strings.Replace(r.RawPath, "/photos", "//photos", 1) }, code: "SignatureDoesNotMatch"},
		{name: "query order changed verifies", base: headerGET, post: func(r *Request, _ *[]byte) { r.RawQuery = "uploads&prefix=photos%2F&list-type=2" }, code: ""},
		{name: "query value changed", base: headerGET, post: editQuery("list-type=2", "list-type=1"), code: "SignatureDoesNotMatch"},
		{name: "query parameter added", base: headerGET, post: editQuery("uploads", "uploads&x-id=PutObject"), code: "SignatureDoesNotMatch"},
		// The Authorization header itself.
		{name: "unknown access key", base: headerGET, post: editAuth("AKIDEXAMPLE", "AKIDOTHER"), code: "InvalidAccessKeyId"},
		{name: "signature byte changed", base: headerGET, post: flipAuthSignature, code: "SignatureDoesNotMatch"},
		{name: "signature truncated", base: headerGET, post: func(r *Request, _ *[]byte) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-1])
		}, code: "SignatureDoesNotMatch"},
		{name: "signature in upper case", base: headerGET, post: upperAuthSignature, code: "SignatureDoesNotMatch"},
		{name: "signature component missing", base: headerGET, post: func(r *Request, _ *[]byte) {
			a, _, _ := strings.Cut(r.Header.Get("Authorization"), ", Signature=")
			r.Header.Set("Authorization", a)
		}, code: "AuthorizationHeaderMalformed"},
		{name: "component repeated", base: headerGET, post: editAuth("SignedHeaders=", "SignedHeaders=host, SignedHeaders="), code: "AuthorizationHeaderMalformed"},
		{name: "unknown component", base: headerGET, post: editAuth("SignedHeaders=", "Foo=bar, SignedHeaders="), code: "AuthorizationHeaderMalformed"},
		{name: "component without value", base: headerGET, post: editAuth("SignedHeaders=", "Foo, SignedHeaders="), code: "AuthorizationHeaderMalformed"},
		{name: "signature version 2", base: headerGET, post: setHeader("Authorization", "AWS AKIDEXAMPLE:c2lnbmF0dXJl"), code: "InvalidRequest"},
		{name: "signature version 4a", base: headerGET, post: editAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), code: "InvalidRequest"},
		{name: "bearer token", base: headerGET, post: setHeader("Authorization", "Bearer eyJhbGciOi"), code: "InvalidArgument"},
		{name: "two Authorization headers", base: headerGET, post: func(r *Request, _ *[]byte) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, code: "AuthorizationHeaderMalformed"},
		{name: "header and query authentication", base: headerGET, post: editQuery("uploads", "uploads&X-Amz-Algorithm=AWS4-HMAC-SHA256"), code: "InvalidArgument"},
		{name: "no authentication", base: headerGET, post: delHeader("Authorization"), code: "AccessDenied"},
		{name: "x-amz-content-sha256 missing", base: headerGET, post: delHeader("X-Amz-Content-Sha256"), code: "InvalidRequest"},
		{name: "x-amz-content-sha256 invalid", base: headerGET, post: setHeader("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"), code: "InvalidArgument"},
		// Presigned URLs.
		{name: "presigned URL expired", base: presignedGET, pre: func(f *fixture) { f.skew = time.Hour }, code: "AccessDenied"},
		{name: "presigned URL not yet valid", base: presignedGET, pre: func(f *fixture) { f.skew = -20 * time.Minute }, code: "AccessDenied"},
		{name: "presigned expiry over 7 days", base: presignedGET, post: editQuery("X-Amz-Expires=3600", "X-Amz-Expires=604801"), code: "AuthorizationQueryParametersError"},
		{name: "presigned expiry negative", base: presignedGET, post: editQuery("X-Amz-Expires=3600", "X-Amz-Expires=-1"), code: "AuthorizationQueryParametersError"},
		{name: "presigned expiry not a number", base: presignedGET, post: editQuery("X-Amz-Expires=3600", "X-Amz-Expires=1h"), code: "AuthorizationQueryParametersError"},
		{name: "presigned expiry changed", base: presignedGET, post: editQuery("X-Amz-Expires=3600", "X-Amz-Expires=7200"), code: "SignatureDoesNotMatch"},
		{name: "presigned date missing", base: presignedGET, post: editQuery("X-Amz-Date=", "X-Amz-Datum="), code: "AuthorizationQueryParametersError"},
		{name: "presigned date repeated", base: presignedGET, post: editQuery("X-Amz-Date=", "X-Amz-Date=20240506T070809Z&X-Amz-Date="), code: "AuthorizationQueryParametersError"},
		{name: "presigned date malformed", base: presignedGET, post: editQuery("X-Amz-Date=20240506T070809Z", "X-Amz-Date=20240506"), code: "AuthorizationQueryParametersError"},
		{name: "presigned credential date differs", base: presignedGET, post: editQuery("%2F20240506%2F", "%2F20240507%2F"), code: "AuthorizationQueryParametersError"},
		{name: "presigned credential malformed", base: presignedGET, post: editQuery("%2Faws4_request", ""), code: "AuthorizationQueryParametersError"},
		{name: "presigned algorithm", base: presignedGET, post: editQuery("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), code: "AuthorizationQueryParametersError"},
		{name: "presigned signed headers without host", base: presignedGET, post: editQuery("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range"), code: "AuthorizationQueryParametersError"},
		{name: "presigned signed headers empty", base: presignedGET, post: editQuery("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders="), code: "AuthorizationQueryParametersError"},
		{name: "presigned payload hash invalid", base: presignedGET, post: editQuery("X-Amz-Algorithm", "X-Amz-Content-Sha256=bogus&X-Amz-Algorithm"), code: "InvalidArgument"},
		{name: "presigned with a signed payload hash verifies", base: presignedGET, pre: func(f *fixture) {
			f.mode, f.query = "", "X-Amz-Content-Sha256="+sha256Hex(nil)
		}, code: ""},
		{name: "presigned signature changed", base: presignedGET, post: flipQuerySignature, code: "SignatureDoesNotMatch"},
		{name: "presigned path changed", base: presignedGET, post: func(r *Request, _ *[]byte) { r.RawPath += "x" }, code: "SignatureDoesNotMatch"},
		{name: "presigned URL with an unsigned x-amz header", base: presignedGET, post: setHeader("X-Amz-Copy-Source", "/secret/key"), code: "AccessDenied"},
		{name: "presigned unknown access key", base: presignedGET, post: editQuery("AKIDEXAMPLE", "AKIDOTHER"), code: "InvalidAccessKeyId"},
		{name: "signature version 2 query", base: presignedGET, post: func(r *Request, _ *[]byte) { r.RawQuery = "AWSAccessKeyId=AKIDEXAMPLE&Expires=1&Signature=c2ln" }, code: "InvalidRequest"},
		// Payload hash and checksums.
		{name: "body changed under a signed sha256", base: signedPUT, post: flipAfter("0123"), code: "XAmzContentSHA256Mismatch"},
		{name: "unsigned body changed under Content-MD5", base: signedPUT, pre: func(f *fixture) {
			f.mode = unsignedPayload
			f.header.Set("Content-Md5", contentMD5(f.body))
		}, post: flipAfter("0123"), code: "BadDigest"},
		{name: "Content-MD5 of other bytes", base: signedPUT, pre: func(f *fixture) { f.header.Set("Content-Md5", contentMD5(nil)) }, code: "BadDigest"},
		{name: "Content-MD5 malformed", base: signedPUT, pre: func(f *fixture) { f.header.Set("Content-Md5", "not base64!") }, code: "InvalidDigest"},
		{name: "x-amz-checksum-crc32 of other bytes", base: signedPUT, pre: func(f *fixture) { f.header.Set("X-Amz-Checksum-Crc32", "AAAAAA==") }, code: "BadDigest"},
		{name: "x-amz-checksum-sha256 malformed", base: signedPUT, pre: func(f *fixture) { f.header.Set("X-Amz-Checksum-Sha256", "AAAAAA==") }, code: "InvalidRequest"},
		{name: "two x-amz-checksum headers", base: signedPUT, pre: func(f *fixture) {
			f.header.Set("X-Amz-Checksum-Crc32", crc)
			f.header.Set("X-Amz-Checksum-Crc32c", checksumOf(ChecksumCRC32C, f.body))
		}, code: "InvalidRequest"},
		{name: "x-amz-trailer without a trailer mode", base: signedPUT, pre: func(f *fixture) { f.header.Set("X-Amz-Trailer", "x-amz-checksum-crc32") }, code: "InvalidRequest"},
		// aws-chunked bodies.
		{name: "chunk signature changed", base: func() fixture { return chunkedPUT(streamingPayload) }, post: flipAfter(";chunk-signature="), code: "SignatureDoesNotMatch"},
		{name: "chunk data changed", base: func() fixture { return chunkedPUT(streamingPayload) }, post: flipAfter("\r\n0123"), code: "SignatureDoesNotMatch"},
		{name: "chunk size changed", base: func() fixture { return chunkedPUT(streamingPayload) }, post: editWire("10000;", "10001;"), code: "IncompleteBody"},
		{name: "chunk size not hexadecimal", base: func() fixture { return chunkedPUT(streamingPayload) }, post: editWire("10000;", "1000g;"), code: "IncompleteBody"},
		{name: "chunk size too large", base: func() fixture { return chunkedPUT(streamingPayload) }, post: editWire("10000;", "10000000000000000;"), code: "InvalidChunkSizeError"},
		{name: "signed chunk under 8 KiB before the last", base: func() fixture { return chunkedPUT(streamingPayload) }, pre: func(f *fixture) { f.chunk = 4096 }, code: "InvalidChunkSizeError"},
		{name: "chunk signature missing", base: func() fixture { return chunkedPUT(streamingPayload) }, post: editWire(";chunk-signature=", ";chunk-signatur="), code: "IncompleteBody"},
		{name: "chunk not followed by CRLF", base: func() fixture { return chunkedPUT(streamingPayload) }, post: editWire("9\r\n", "9\n\n"), code: "IncompleteBody"},
		{name: "chunk header without CR", base: func() fixture { return chunkedPUT(streamingPayload) }, post: func(_ *Request, w *[]byte) {
			i := bytes.Index(*w, []byte("\r\n"))
			*w = append(bytes.Clone((*w)[:i]), (*w)[i+1:]...)
		}, code: "IncompleteBody"},
		{name: "chunked body truncated", base: func() fixture { return chunkedPUT(streamingPayload) }, post: func(_ *Request, w *[]byte) { *w = (*w)[:1000] }, code: "IncompleteBody"},
		{name: "chunked body without its final CRLF", base: func() fixture { return chunkedPUT(streamingPayload) }, post: func(_ *Request, w *[]byte) { *w = (*w)[:len(*w)-2] }, code: "IncompleteBody"},
		{name: "decoded length signed too large", base: func() fixture { return chunkedPUT(streamingPayload) }, pre: func(f *fixture) { f.decodedLen = 1 }, code: "IncompleteBody"},
		{name: "decoded length signed too small", base: func() fixture { return chunkedPUT(streamingPayload) }, pre: func(f *fixture) { f.decodedLen = -1 }, code: "IncompleteBody"},
		{name: "decoded length not a number", base: func() fixture { return chunkedPUT(streamingPayload) }, pre: func(f *fixture) { f.header.Set("X-Amz-Decoded-Content-Length", "ten") }, code: "InvalidArgument"},
		{name: "unsigned trailer checksum changed", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: editWire(crc, "AAAAAA=="), code: "BadDigest"},
		{name: "unsigned trailer checksum malformed", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: editWire(crc, "AAAA"), code: "InvalidRequest"},
		{name: "signed trailer checksum changed", base: func() fixture { return chunkedPUT(streamingPayloadTrailer) }, post: editWire(crc, "AAAAAA=="), code: "SignatureDoesNotMatch"},
		{name: "trailer signature changed", base: func() fixture { return chunkedPUT(streamingPayloadTrailer) }, post: flipAfter("x-amz-trailer-signature:"), code: "SignatureDoesNotMatch"},
		{name: "trailer signature missing", base: func() fixture { return chunkedPUT(streamingPayloadTrailer) }, post: editWire("x-amz-trailer-signature:", "x-amz-trailer-signatur:"), code: "MalformedTrailerError"},
		{name: "trailer signature line removed", base: func() fixture { return chunkedPUT(streamingPayloadTrailer) }, post: func(_ *Request, w *[]byte) {
			i := bytes.Index(*w, []byte("x-amz-trailer-signature:"))
			*w = append(bytes.Clone((*w)[:i]), "\r\n"...)
		}, code: "MalformedTrailerError"},
		{name: "declared trailer missing", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: editWire("x-amz-checksum-crc32:"+crc+"\r\n", ""), code: "MalformedTrailerError"},
		{name: "undeclared trailer", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: editWire("x-amz-checksum-crc32:", "x-amz-checksum-crc32c:"), code: "MalformedTrailerError"},
		{name: "trailer line without a colon", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: editWire("x-amz-checksum-crc32:", "x-amz-checksum-crc32="), code: "MalformedTrailerError"},
		{name: "trailer without its final CRLF verifies", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, post: func(_ *Request, w *[]byte) { *w = (*w)[:len(*w)-2] }, code: ""},
		{name: "trailer declared twice", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, pre: func(f *fixture) { f.header.Set("X-Amz-Trailer", "x-amz-checksum-crc32,x-amz-checksum-sha1") }, code: "InvalidRequest"},
		{name: "trailer of an unknown kind", base: func() fixture { return chunkedPUT(streamingUnsignedPayloadTrail) }, pre: func(f *fixture) { f.header.Set("X-Amz-Trailer", "x-amz-meta-foo") }, code: "InvalidRequest"},
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
			if tt.post != nil {
				r.Header = r.Header.Clone()
				tt.post(&r, &wire)
			}
			_, _, _, err := verifyAll(v, r, wire, f.now())
			if got := errCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func flipAuthSignature(r *Request, _ *[]byte) {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Signature=") + len("Signature=")
	r.Header.Set("Authorization", a[:i]+string(a[i]^1)+a[i+1:])
}

func upperAuthSignature(r *Request, _ *[]byte) {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Signature=") + len("Signature=")
	r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
}

func flipQuerySignature(r *Request, _ *[]byte) {
	i := strings.Index(r.RawQuery, "X-Amz-Signature=") + len("X-Amz-Signature=")
	r.RawQuery = r.RawQuery[:i] + string(r.RawQuery[i]^1) + r.RawQuery[i+1:]
}

// TestErrorsIs checks that errors match their sentinel, not just their code.
func TestErrorsIs(t *testing.T) {
	t.Parallel()
	f := presignedGET()
	f.skew = time.Hour
	r, _ := f.sign(t)
	_, err := New(Options{}).Verify(r, testSecrets, f.now())
	if !errors.Is(err, ErrRequestExpired) || errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrNoAuth) {
		t.Errorf("expired: errors.Is mismatch for %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusForbidden || e.Message != "Request has expired" {
		t.Errorf("expired: %+v", e)
	}
	_, err = New(Options{}).Verify(Request{Method: "GET", RawPath: "/", Header: http.Header{}}, testSecrets, f.now())
	if !errors.Is(err, ErrNoAuth) || err.Error() != "sigv4: AccessDenied: Access Denied" {
		t.Errorf("no auth: %v", err)
	}
	// A failing lookup that is not "unknown key" is passed through.
	boom := errors.New("database down")
	r, _ = headerGET().sign(t)
	_, err = New(Options{}).Verify(r, func(string) (string, error) { return "", boom }, headerGET().now())
	if !errors.Is(err, boom) || errCode(err) == "InvalidAccessKeyId" {
		t.Errorf("lookup failure: %v", err)
	}
}

// TestSentinels checks the wire facts of every sentinel.
func TestSentinels(t *testing.T) {
	t.Parallel()
	all := []*Error{ErrNoAuth, ErrAccessDenied, ErrRequestExpired, ErrUnknownAccessKey, ErrSignatureDoesNotMatch,
		ErrRequestTimeTooSkewed, ErrAuthorizationHeaderMalformed, ErrAuthorizationQueryParametersError,
		ErrInvalidArgument, ErrInvalidRequest, ErrIncompleteBody, ErrInvalidChunkSizeError, ErrMalformedTrailer,
		ErrBadDigest, ErrInvalidDigest, ErrXAmzContentSHA256Mismatch}
	for i, e := range all {
		if e.Code == "" || e.Message == "" || (e.HTTPStatus != http.StatusBadRequest && e.HTTPStatus != http.StatusForbidden) {
			t.Errorf("sentinel %+v", e)
		}
		for j, other := range all {
			if got := errors.Is(e.clone(), other); got != (i == j) {
				t.Errorf("errors.Is(%s clone, %s) = %v", e.Code, other.Code, got)
			}
		}
	}
}
