package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// The canonical request, the string to sign and the signing key, as in
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html.

const upperhex = "0123456789ABCDEF"

// emptySHA256 is the hex SHA-256 of no bytes.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// unreserved reports whether c is left as is by UriEncode.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// uriEncode is AWS's UriEncode: every byte but the unreserved ones becomes
// %XX with uppercase hex. For a path, "/" and existing %XX escapes (their hex
// uppercased) are kept too. It returns s itself when nothing changes.
func uriEncode(s string, path bool) string {
	i := 0
	for i < len(s) && (unreserved(s[i]) || path && s[i] == '/') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, i, len(s)+16)
	copy(b, s[:i])
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case unreserved(c) || path && c == '/':
			b = append(b, c)
		case path && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, '%', upper(s[i+1]), upper(s[i+2]))
			i += 2
		default:
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return string(b)
}

// CanonicalURI returns the canonical URI of a raw request path as S3 builds
// it: the path exactly as sent, neither normalised nor decoded ("//" and a
// trailing "/" stay), with existing %XX escapes kept (hex uppercased) and
// every other byte outside A-Z a-z 0-9 - _ . ~ / percent-encoded, so that a
// client that sent raw spaces, "+" or UTF-8 still validates. An empty path
// is "/".
func CanonicalURI(rawPath string) string {
	if rawPath == "" {
		return "/"
	}
	return uriEncode(rawPath, true)
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// CanonicalQuery returns the canonical query string of a raw query: every
// parameter decoded and re-encoded with UriEncode, sorted by encoded name
// then encoded value, a valueless one (?uploads) written "uploads=". When
// presigned is true X-Amz-Signature is left out.
func CanonicalQuery(rawQuery string, presigned bool) string {
	return string(appendQuery(nil, parseQuery(rawQuery), presigned))
}

func appendQuery(b []byte, ps []param, presigned bool) []byte {
	slices.SortFunc(ps, func(x, y param) int {
		if c := strings.Compare(x.ekey, y.ekey); c != 0 {
			return c
		}
		return strings.Compare(x.evalue, y.evalue)
	})
	first := true
	for _, p := range ps {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		b = append(b, p.ekey...)
		b = append(b, '=')
		b = append(b, p.evalue...)
	}
	return b
}

// appendHeaderValue appends the canonical value of a header: its values
// trimmed, runs of spaces inside folded to one, several values joined by ",".
func appendHeaderValue(b []byte, values []string) []byte {
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		v = strings.Trim(v, " \t")
		space := false
		for j := 0; j < len(v); j++ {
			c := v[j]
			if c == ' ' {
				if space {
					continue
				}
				space = true
			} else {
				space = false
			}
			b = append(b, c)
		}
	}
	return b
}

// headerValues returns the values of the lowercase header name, whether or
// not h is canonical-keyed, without allocating for canonical keys.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) <= len(buf) {
		k := buf[:len(name)]
		upperNext := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upperNext && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			k[i] = c
			upperNext = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// canonicalInput is what a canonical request is made of, already resolved.
type canonicalInput struct {
	method        string
	uri           string // canonical URI
	query         []param
	presigned     bool
	header        http.Header
	host          string // value of the host header
	signedHeaders []string
	signedList    string // the SignedHeaders list as sent
	payload       string // hashed payload line
}

func appendCanonical(b []byte, in *canonicalInput) []byte {
	b = append(b, in.method...)
	b = append(b, '\n')
	b = append(b, in.uri...)
	b = append(b, '\n')
	b = appendQuery(b, in.query, in.presigned)
	b = append(b, '\n')
	for _, name := range in.signedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		if name == "host" {
			b = appendHeaderValue(b, []string{in.host})
		} else if values := headerValues(in.header, name); len(values) == 0 && name == "expect" {
			// Some servers consume Expect before the handler; aws-cli signs it.
			b = append(b, "100-continue"...)
		} else {
			b = appendHeaderValue(b, values)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, in.signedList...)
	b = append(b, '\n')
	b = append(b, in.payload...)
	return b
}

// CanonicalRequest returns the canonical request of r for the given signed
// headers (lowercase, in the order signed) and hashed payload (a hex SHA-256
// or one of UNSIGNED-PAYLOAD, STREAMING-…). The URI is CanonicalURI(r.RawPath),
// the query CanonicalQuery(r.RawQuery) without X-Amz-Signature, and host is
// r.Host.
func CanonicalRequest(r Request, signedHeaders []string, payloadHash string) string {
	in := canonicalInput{
		method:        r.Method,
		uri:           CanonicalURI(r.RawPath),
		query:         parseQuery(r.RawQuery),
		presigned:     true,
		header:        r.Header,
		host:          r.Host,
		signedHeaders: signedHeaders,
		signedList:    strings.Join(signedHeaders, ";"),
		payload:       payloadHash,
	}
	return string(appendCanonical(nil, &in))
}

// Scope returns the credential scope date/region/service/aws4_request, where
// date is YYYYMMDD.
func Scope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + terminator
}

// StringToSign returns the string to sign for a canonical request signed at
// amzDate (TimeFormat) within scope.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func appendStringToSign(b []byte, amzDate, scope string, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	b = append(b, Algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum[:])
}

// SigningKey derives the SigV4 signing key of secret for a date (YYYYMMDD),
// region and service.
func SigningKey(secret, date, region, service string) []byte {
	k := signingKey(secret, date, region, service)
	return k[:]
}

func signingKey(secret, date, region, service string) [32]byte {
	var kb [128]byte
	var mb [64]byte
	k := mac(append(append(kb[:0], "AWS4"...), secret...), append(mb[:0], date...))
	k = mac(k[:], append(mb[:0], region...))
	k = mac(k[:], append(mb[:0], service...))
	return mac(k[:], append(mb[:0], terminator...))
}

// keyCache remembers signing keys, which change once a day per access key,
// region and service, so that most requests skip the four HMACs deriving
// them. It holds at most maxCachedKeys entries and starts over when full.
type keyCache struct {
	mu sync.Mutex
	m  map[scope]cachedKey
}

const maxCachedKeys = 1024

type cachedKey struct {
	secret string
	key    [32]byte
}

// get returns the signing key of secret for s, derived or remembered.
func (c *keyCache) get(secret string, s scope) [32]byte {
	c.mu.Lock()
	e, ok := c.m[s]
	c.mu.Unlock()
	if ok && e.secret == secret {
		return e.key
	}
	k := signingKey(secret, s.date, s.region, s.service)
	// The strings may be views of a reused request buffer (fasthttp): copy.
	s = scope{strings.Clone(s.accessKey), strings.Clone(s.date), strings.Clone(s.region), strings.Clone(s.service)}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedKeys {
		c.m = make(map[scope]cachedKey)
	}
	c.m[s] = cachedKey{strings.Clone(secret), k}
	c.mu.Unlock()
	return k
}

// mac returns HMAC-SHA256(key, msg) (RFC 2104). It works on stack buffers so
// that signing a request or a chunk does not allocate.
func mac(key, msg []byte) [32]byte {
	var k [sha256.BlockSize]byte
	if len(key) > len(k) {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var buf [sha256.BlockSize + 448]byte
	b := buf[:sha256.BlockSize]
	for i, c := range k {
		b[i] = c ^ 0x36
	}
	inner := sha256.Sum256(append(b, msg...))
	for i, c := range k {
		b[i] = c ^ 0x5c
	}
	return sha256.Sum256(append(b, inner[:]...))
}
