package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAccessKey = "AKIDEXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var testSecrets = secrets(testAccessKey, testSecret)

// fixture describes a request to sign with aws-sdk-go-v2's own signer.
type fixture struct {
	method  string
	path    string // raw, as sent
	query   string // raw, as sent
	host    string
	header  http.Header
	body    []byte // payload
	mode    string // x-amz-content-sha256; "" means the hex SHA-256 of body
	presign bool
	expires int // seconds, for presign
	at      time.Time
	region  string
	service string
	token   string

	chunk      int               // aws-chunked chunk size; 0 means one chunk
	trailer    ChecksumAlgorithm // trailing checksum, for the -TRAILER modes
	decodedLen int               // x-amz-decoded-content-length delta, to sign a wrong one

	skew time.Duration // how much later than usual the server checks
}

// baseFixture is a valid signed GET.
func baseFixture() fixture {
	return fixture{
		method:  "GET",
		path:    "/bucket/photos/2024/a%20b.jpg",
		query:   "list-type=2&prefix=photos%2F&uploads",
		host:    "s3.example.com:9000",
		header:  http.Header{"X-Amz-Meta-Color": {"  deep   blue "}, "Range": {"bytes=0-9"}},
		at:      time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		region:  "us-east-1",
		service: "s3",
	}
}

func (f fixture) now() time.Time { return f.at.Add(time.Minute + f.skew) }

func (f fixture) streaming() bool { return strings.HasPrefix(f.mode, "STREAMING-") }

func (f fixture) credentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret, SessionToken: f.token}
}

// sign returns the request view and the wire body, signed by the SDK.
func (f fixture) sign(t testing.TB) (Request, []byte) {
	t.Helper()
	req, err := http.NewRequest(f.method, "http://"+f.host+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Path, err = url.PathUnescape(f.path); err != nil {
		t.Fatalf("path %q: %v", f.path, err)
	}
	req.URL.RawPath, req.URL.RawQuery = f.path, f.query
	if got := req.URL.EscapedPath(); got != f.path {
		t.Fatalf("net/url would send %q, not %q", got, f.path)
	}
	req.Header = f.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	payload := f.mode
	if payload == "" {
		payload = sha256Hex(f.body)
	}
	wire := f.body
	if f.streaming() {
		wire = f.encode(strings.Repeat("0", 64), nil)
		req.Header.Set("Content-Encoding", "aws-chunked")
		if req.Header.Get("X-Amz-Decoded-Content-Length") == "" {
			req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(f.body)+f.decodedLen))
		}
		if f.trailer != "" && req.Header.Get("X-Amz-Trailer") == "" {
			req.Header.Set("X-Amz-Trailer", f.trailer.Header())
		}
	}
	req.ContentLength = int64(len(wire))
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	ctx := context.Background()
	if f.presign {
		req.URL.RawQuery = strings.TrimPrefix(f.query+"&X-Amz-Expires="+strconv.Itoa(f.expires), "&")
		signed, hdr, err := signer.PresignHTTP(ctx, f.credentials(), req, payload, f.service, f.region, f.at)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		r := Request{Method: f.method, RawPath: u.EscapedPath(), RawQuery: u.RawQuery, Header: http.Header{}, Host: f.host}
		for k, v := range hdr {
			if k != "host" {
				r.Header[http.CanonicalHeaderKey(k)] = v
			}
		}
		return r, wire
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := signer.SignHTTP(ctx, f.credentials(), req, payload, f.service, f.region, f.at); err != nil {
		t.Fatal(err)
	}
	if f.streaming() {
		_, seed, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
		seedBytes, err := hex.DecodeString(seed)
		if err != nil {
			t.Fatal(err)
		}
		wire = f.encode(seed, v4.NewStreamSigner(f.credentials(), f.service, f.region, seedBytes))
	}
	return RequestFromHTTP(req), wire
}

// encode returns f.body aws-chunked: chunk signatures from the SDK's stream
// signer (a chunk's string to sign is an event-stream one with no headers),
// the trailer signature computed here with crypto/hmac.
func (f fixture) encode(seed string, ss *v4.StreamSigner) []byte {
	signed := f.mode != streamingUnsignedPayloadTrail
	size := f.chunk
	if size == 0 {
		size = max(len(f.body), 1)
	}
	var w bytes.Buffer
	prev := seed
	emit := func(data []byte) {
		fmt.Fprintf(&w, "%x", len(data))
		if signed {
			if ss != nil {
				sig, _ := ss.GetSignature(context.Background(), nil, data, f.at)
				prev = hex.EncodeToString(sig)
			}
			w.WriteString(";chunk-signature=" + prev)
		}
		w.WriteString("\r\n")
		if len(data) > 0 {
			w.Write(data)
			w.WriteString("\r\n")
		}
	}
	for off := 0; off < len(f.body); off += size {
		emit(f.body[off:min(off+size, len(f.body))])
	}
	emit(nil)
	if f.trailer != "" {
		line := f.trailer.Header() + ":" + checksumOf(f.trailer, f.body)
		w.WriteString(line + "\r\n")
		if f.mode == streamingPayloadTrailer {
			date := f.at.Format(TimeFormat)
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + date + "\n" + Scope(date[:8], f.region, f.service) + "\n" + prev + "\n" + sha256Hex([]byte(line+"\n"))
			w.WriteString("x-amz-trailer-signature:" + refHMAC(refSigningKey(testSecret, date[:8], f.region, f.service), sts) + "\r\n")
		}
	}
	w.WriteString("\r\n")
	return w.Bytes()
}

// checksumOf returns the wire value of a checksum of b.
func checksumOf(a ChecksumAlgorithm, b []byte) string {
	h := a.New()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func contentMD5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// verifyAll runs Verify and, on success, reads the body through Body.
func verifyAll(v *Verifier, r Request, wire []byte, now time.Time) (Credential, []byte, *BodyReader, error) {
	c, err := v.Verify(r, testSecrets, now)
	if err != nil {
		return c, nil, nil, err
	}
	got, b, err := readBody(v, c, r, wire)
	return c, got, b, err
}
