package sigv4

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Request is a plain view of an HTTP request, filled by the caller from
// fasthttp or net/http (see RequestFromHTTP).
type Request struct {
	Method   string
	RawPath  string      // path exactly as sent on the wire, still percent-encoded, without query
	RawQuery string      // query exactly as sent, without "?"
	Header   http.Header // all headers as sent, canonical-keyed, including Content-Length
	Host     string      // Host header as sent, with the port if the client sent one
}

// SecretFunc returns the secret key of an access key. It MUST return an error
// wrapping ErrUnknownAccessKey when the key does not exist; any other error is
// returned by Verify, wrapped, for the caller to treat as internal.
type SecretFunc func(accessKey string) (secret string, err error)

// Options configures a Verifier.
type Options struct {
	// PathPrefix is the path the S3 service is mounted under for its clients,
	// e.g. "/s3". A request is first checked with the path as received. When
	// that fails, and the received path starts with PathPrefix, it is checked
	// again with the prefix stripped (s3cmd signs without the endpoint's
	// path); otherwise it is checked again with the prefix prepended (a proxy
	// stripped the prefix the client signed).
	PathPrefix string

	// ForwardedHost makes the host header value come from X-Forwarded-Host
	// (or the host of a Forwarded header) when present. Set it only behind a
	// proxy that sets these headers itself.
	ForwardedHost bool

	// MaxSkew is the largest allowed distance between the request time and
	// now; 0 means 15 minutes, as S3.
	MaxSkew time.Duration
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	prefix        string
	forwardedHost bool
	maxSkew       time.Duration
	keys          keyCache
}

// New returns a Verifier configured by o.
func New(o Options) *Verifier {
	v := &Verifier{forwardedHost: o.ForwardedHost, maxSkew: o.MaxSkew}
	if v.maxSkew <= 0 {
		v.maxSkew = 15 * time.Minute
	}
	if p := strings.Trim(o.PathPrefix, "/"); p != "" {
		v.prefix = "/" + p
	}
	return v
}

// PayloadMode is how the body is authenticated, from x-amz-content-sha256.
type PayloadMode int

// The payload modes.
const (
	PayloadUnsigned                 PayloadMode = iota // UNSIGNED-PAYLOAD (also presigned URLs)
	PayloadSHA256                                      // hex SHA-256 of the body
	PayloadStreamingSigned                             // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	PayloadStreamingSignedTrailer                      // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	PayloadStreamingUnsignedTrailer                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// String returns the x-amz-content-sha256 value of m ("<sha256>" for PayloadSHA256).
func (m PayloadMode) String() string {
	switch m {
	case PayloadSHA256:
		return "<sha256>"
	case PayloadStreamingSigned:
		return streamingPayload
	case PayloadStreamingSignedTrailer:
		return streamingPayloadTrailer
	case PayloadStreamingUnsignedTrailer:
		return streamingUnsignedPayloadTrail
	}
	return unsignedPayload
}

// Streaming reports whether a body in mode m is aws-chunked encoded.
func (m PayloadMode) Streaming() bool { return m >= PayloadStreamingSigned }

// Credential is the result of a successful verification: who signed, and what
// Body needs to verify the payload.
type Credential struct {
	AccessKey     string
	Region        string // as signed; the caller decides which regions it accepts
	Service       string // as signed, e.g. "s3"
	SessionToken  string // X-Amz-Security-Token, for the caller to check
	Date          time.Time
	SignedHeaders []string
	PayloadMode   PayloadMode
	Presigned     bool
	Expires       time.Time // end of validity of a presigned URL, zero otherwise

	payloadHash string   // hex, for PayloadSHA256
	key         [32]byte // signing key, for chunk and trailer signatures
	signature   string   // request signature: the seed of the chunk chain
	amzDate     string   // timestamp line of the string to sign
	scope       string
}

// Verify authenticates r: by its Authorization header, by presigned query
// parameters, or not at all (ErrNoAuth). On success it returns the
// credential; the body, if any, must then be read through Body. now is the
// server's current time.
func (v *Verifier) Verify(r Request, secret SecretFunc, now time.Time) (Credential, error) {
	params := parseQuery(r.RawQuery)
	auth := r.Header.Values("Authorization")
	if len(auth) == 1 && strings.TrimSpace(auth[0]) == "" {
		auth = nil
	}
	_, algs := lookup(params, "X-Amz-Algorithm")
	_, creds := lookup(params, "X-Amz-Credential")
	_, sigs := lookup(params, "X-Amz-Signature")
	presigned := algs+creds+sigs > 0
	_, v2key := lookup(params, "AWSAccessKeyId")
	_, v2sig := lookup(params, "Signature")
	v2 := v2key > 0 && v2sig > 0
	switch {
	case len(auth) > 0 && (presigned || v2):
		return Credential{}, ErrInvalidArgument.with("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case len(auth) > 1:
		return Credential{}, malformed("the request carries more than one Authorization header.")
	case len(auth) == 1:
		return v.verifyHeader(r, auth[0], params, secret, now)
	case presigned:
		return v.verifyPresigned(r, params, secret, now)
	case v2:
		return Credential{}, ErrInvalidRequest.with("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	return Credential{}, ErrNoAuth.clone()
}

func (v *Verifier) verifyHeader(r Request, header string, params []param, secret SecretFunc, now time.Time) (Credential, error) {
	a, err := parseAuthorization(header)
	if err != nil {
		return Credential{}, err
	}
	names, msg := splitSignedHeaders(a.signedHeaders)
	if msg != "" {
		return Credential{}, malformed("%s", msg)
	}
	amzDate := first(r.Header, "X-Amz-Date")
	t, ok := parseAmzDate(amzDate)
	if amzDate == "" {
		t, err = http.ParseTime(first(r.Header, "Date"))
		ok, amzDate = err == nil, t.UTC().Format(TimeFormat)
	}
	if !ok {
		return Credential{}, ErrAccessDenied.with("AWS authentication requires a valid Date or x-amz-date header")
	}
	if a.scope.date != amzDate[:8] {
		return Credential{}, malformed("Invalid credential date \"%s\". This date is not the same as X-Amz-Date: \"%s\".", a.scope.date, amzDate[:8])
	}
	if d := now.Sub(t); d > v.maxSkew || d < -v.maxSkew {
		return Credential{}, ErrRequestTimeTooSkewed.clone()
	}
	payload := first(r.Header, "X-Amz-Content-Sha256")
	if payload == "" {
		return Credential{}, ErrInvalidRequest.with("Missing required header for this request: x-amz-content-sha256")
	}
	mode, err := parsePayloadMode(payload)
	if err != nil {
		return Credential{}, err
	}
	c := Credential{
		AccessKey: a.scope.accessKey, Region: a.scope.region, Service: a.scope.service,
		SessionToken: first(r.Header, "X-Amz-Security-Token"),
		Date:         t, SignedHeaders: names, PayloadMode: mode,
		amzDate: amzDate, scope: a.scope.String(),
	}
	if mode == PayloadSHA256 {
		c.payloadHash = payload
	}
	in := canonicalInput{
		method: r.Method, query: params, header: r.Header,
		signedHeaders: names, signedList: a.signedHeaders, payload: payload,
	}
	return v.check(c, r, &in, a.signature, secret)
}

// check looks up the secret and compares want with the signature of in,
// trying the alternative path and host spellings of the options.
func (v *Verifier) check(c Credential, r Request, in *canonicalInput, want string, secret SecretFunc) (Credential, error) {
	s, err := secret(c.AccessKey)
	switch {
	case errors.Is(err, ErrUnknownAccessKey):
		return Credential{}, ErrUnknownAccessKey.clone()
	case err != nil:
		return Credential{}, fmt.Errorf("sigv4: look up secret: %w", err)
	}
	c.key = v.keys.get(s, scope{c.AccessKey, c.amzDate[:8], c.Region, c.Service})
	wantSum, ok := decodeSignature(want)
	var buf [1024]byte
	paths, np := v.paths(r.RawPath)
	hosts, nh := v.hosts(r)
	for _, path := range paths[:np] {
		in.uri = CanonicalURI(path)
		for _, host := range hosts[:nh] {
			in.host = host
			b := appendCanonical(buf[:0], in)
			sum := mac(c.key[:], appendStringToSign(b[len(b):], c.amzDate, c.scope, b))
			if hmac.Equal(sum[:], wantSum[:]) && ok {
				c.signature = want
				return c, nil
			}
		}
	}
	return Credential{}, ErrSignatureDoesNotMatch.clone()
}

// paths returns the raw path and, with a PathPrefix, its other spelling.
func (v *Verifier) paths(raw string) ([2]string, int) {
	switch {
	case v.prefix == "":
		return [2]string{raw}, 1
	case raw == v.prefix:
		return [2]string{raw, "/"}, 2
	case strings.HasPrefix(raw, v.prefix+"/"):
		return [2]string{raw, raw[len(v.prefix):]}, 2
	}
	return [2]string{raw, v.prefix + raw}, 2
}

// hosts returns the host header value and, when it carries a default port,
// the value without it.
func (v *Verifier) hosts(r Request) ([2]string, int) {
	h := r.Host
	if v.forwardedHost {
		if f := forwardedHost(r.Header); f != "" {
			h = f
		}
	}
	if h == "" {
		h = first(r.Header, "Host")
	}
	for _, port := range [...]string{":80", ":443"} {
		if s, ok := strings.CutSuffix(h, port); ok && !strings.HasSuffix(s, ":") {
			return [2]string{h, s}, 2
		}
	}
	return [2]string{h}, 1
}

// forwardedHost returns the first X-Forwarded-Host, or the host of the first
// Forwarded element.
func forwardedHost(h http.Header) string {
	if x := first(h, "X-Forwarded-Host"); x != "" {
		x, _, _ = strings.Cut(x, ",")
		return strings.TrimSpace(x)
	}
	f, _, _ := strings.Cut(first(h, "Forwarded"), ",")
	for _, pair := range strings.Split(f, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if strings.EqualFold(k, "host") {
			return strings.Trim(val, `"`)
		}
	}
	return ""
}

// first returns the first value of a canonical header key.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// RequestFromHTTP returns the Request view of a net/http server request. It
// takes the path and query from RequestURI (exactly as sent) and restores the
// Content-Length and Transfer-Encoding headers net/http moves out of Header.
func RequestFromHTTP(r *http.Request) Request {
	v := Request{Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header, Host: r.Host}
	if strings.HasPrefix(r.RequestURI, "/") {
		v.RawPath, v.RawQuery, _ = strings.Cut(r.RequestURI, "?")
	}
	if r.Host == "" {
		v.Host = r.URL.Host
	}
	missingLength := r.ContentLength > 0 && len(r.Header["Content-Length"]) == 0
	missingTE := len(r.TransferEncoding) > 0 && len(r.Header["Transfer-Encoding"]) == 0
	if missingLength || missingTE {
		v.Header = r.Header.Clone()
		if missingLength {
			v.Header["Content-Length"] = []string{fmt.Sprint(r.ContentLength)}
		}
		if missingTE {
			v.Header["Transfer-Encoding"] = []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return v
}
