package sigv4

import (
	"encoding/hex"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm this package accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// TimeFormat is the layout of x-amz-date and X-Amz-Date (ISO 8601 basic).
const TimeFormat = "20060102T150405Z"

const (
	dateFormat = "20060102"
	terminator = "aws4_request"
)

// authorization is a parsed Authorization header.
type authorization struct {
	scope         scope
	signedHeaders string // "host;range;x-amz-date", as sent
	signature     string // 64 lowercase hex digits, as sent
}

// scope is a parsed credential: <access key>/<date>/<region>/<service>/aws4_request.
type scope struct {
	accessKey, date, region, service string
}

// String returns the credential scope, without the access key.
func (s scope) String() string {
	return Scope(s.date, s.region, s.service)
}

// parseAuthorization parses an AWS4-HMAC-SHA256 Authorization header value:
//
//	AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// Components may be separated by "," with or without spaces, in any order,
// each exactly once.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	alg, rest, _ := strings.Cut(strings.TrimLeft(h, " "), " ")
	if alg != Algorithm {
		switch {
		case alg == "AWS" || strings.HasPrefix(alg, "AWS4-"):
			return a, ErrInvalidRequest.with("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
		default:
			return a, ErrInvalidArgument.with("Unsupported Authorization Type")
		}
	}
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " ")
		key, value, ok := strings.Cut(part, "=")
		var seen *bool
		switch {
		case !ok:
			return a, malformed("the authorization component %q is malformed.", part)
		case key == "Credential":
			seen = &haveCred
			s, msg := parseCredential(value)
			if msg != "" {
				return a, malformed("%s", msg)
			}
			a.scope = s
		case key == "SignedHeaders":
			seen, a.signedHeaders = &haveSigned, value
		case key == "Signature":
			seen, a.signature = &haveSig, value
		default:
			return a, malformed("the authorization component %q is not supported.", key)
		}
		if *seen {
			return a, malformed("the authorization component %q is repeated.", key)
		}
		*seen = true
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	return a, nil
}

func malformed(format string, args ...any) *Error {
	return ErrAuthorizationHeaderMalformed.withf("The authorization header is malformed; "+format, args...)
}

// parseCredential splits <access key>/<YYYYMMDD>/<region>/<service>/aws4_request.
// On failure it returns the reason as a message.
func parseCredential(c string) (scope, string) {
	var s scope
	parts := [5]string{}
	rest := c
	for i := range 4 {
		var ok bool
		parts[i], rest, ok = strings.Cut(rest, "/")
		if !ok {
			return s, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
		}
	}
	parts[4] = rest
	s = scope{accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3]}
	switch {
	case s.accessKey == "" || s.service == "" || strings.Contains(rest, "/"):
		return s, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	case rest != terminator:
		return s, "incorrect terminal \"" + rest + "\". This endpoint uses \"aws4_request\"."
	}
	if _, err := time.Parse(dateFormat, s.date); err != nil || len(s.date) != len(dateFormat) {
		return s, "incorrect date format \"" + s.date + "\". This date in the credential must be in the format \"yyyyMMdd\"."
	}
	return s, ""
}

// splitSignedHeaders splits and checks a SignedHeaders list: lowercase header
// names separated by ";", including host. The order is kept as sent, since the
// client signed that exact list.
func splitSignedHeaders(list string) ([]string, string) {
	if list == "" {
		return nil, "SignedHeaders is empty."
	}
	names := strings.Split(list, ";")
	host := false
	for _, n := range names {
		if n == "" || !isHeaderName(n) {
			return nil, "SignedHeaders contains an invalid header name \"" + n + "\"."
		}
		host = host || n == "host"
	}
	if !host {
		return nil, "SignedHeaders must include host."
	}
	return names, ""
}

// isHeaderName reports whether n is a lowercase HTTP token.
func isHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseAmzDate parses the ISO 8601 basic form 20130524T000000Z strictly.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(TimeFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	t, err := time.Parse(TimeFormat, s)
	return t, err == nil
}

// decodeSignature decodes 64 lowercase hex digits.
func decodeSignature(s string) ([32]byte, bool) {
	var sum [32]byte
	if len(s) != 64 {
		return sum, false
	}
	for i := range sum {
		hi, lo := s[2*i], s[2*i+1]
		if !isLowerHex(hi) || !isLowerHex(lo) {
			return sum, false
		}
		sum[i] = unhex(hi)<<4 | unhex(lo)
	}
	return sum, true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// The values x-amz-content-sha256 may take besides a hex digest.
const (
	unsignedPayload               = "UNSIGNED-PAYLOAD"
	streamingPayload              = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer       = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedPayloadTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// parsePayloadMode classifies an x-amz-content-sha256 value.
func parsePayloadMode(v string) (PayloadMode, error) {
	switch v {
	case unsignedPayload:
		return PayloadUnsigned, nil
	case streamingPayload:
		return PayloadStreamingSigned, nil
	case streamingPayloadTrailer:
		return PayloadStreamingSignedTrailer, nil
	case streamingUnsignedPayloadTrail:
		return PayloadStreamingUnsignedTrailer, nil
	}
	if len(v) == 64 {
		if _, err := hex.DecodeString(v); err == nil {
			return PayloadSHA256, nil
		}
	}
	return 0, ErrInvalidArgument.with("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")
}

// param is one query parameter: its decoded name and value (for lookups) and
// their canonical encodings (for the canonical query string).
type param struct {
	key, value   string
	ekey, evalue string
}

// parseQuery splits a raw query string into parameters in the order sent.
// A parameter without "=" (?uploads) has an empty value. "+" decodes to a
// space, as net/url and the AWS SDKs read it; a "%" not followed by two hex
// digits stands for itself.
func parseQuery(raw string) []param {
	if raw == "" {
		return nil
	}
	ps := make([]param, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		p := param{key: unescape(k), value: unescape(v)}
		p.ekey, p.evalue = uriEncode(p.key, false), uriEncode(p.value, false)
		ps = append(ps, p)
	}
	return ps
}

// lookup returns the value of the first parameter named key, and how many
// parameters carry that name.
func lookup(ps []param, key string) (string, int) {
	var v string
	n := 0
	for i := range ps {
		if ps[i].key == key {
			if n == 0 {
				v = ps[i].value
			}
			n++
		}
	}
	return v, n
}

// unescape percent-decodes s, with "+" as space. It returns s itself when
// there is nothing to decode.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
