package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Options configures a Verifier. It is filled from AUTH_JWT_SECRET,
// AUTH_JWT_ALGORITHM and JWT_JWKS by cmd; the package never reads the environment.
type Options struct {
	// Secret is the static HMAC secret (AUTH_JWT_SECRET). It may be empty when only
	// JWKS keys are used; an empty secret never verifies anything.
	Secret []byte
	// Algorithm is AUTH_JWT_ALGORITHM, "HS256" when empty. An RS*, PS*, ES* or EdDSA
	// value needs a JWKS key of that family.
	Algorithm string
	// JWKS is JWT_JWKS: a JSON {"keys":[...]} with kty oct, RSA, EC (P-256, P-384,
	// P-521) or OKP (Ed25519) keys. Optional.
	JWKS []byte
}

// Verifier checks tokens against a fixed key set. Keys are parsed once by New; a
// Verifier is immutable and safe for concurrent use.
type Verifier struct {
	secret  []byte
	hmacKey any    // secret boxed once, so Verify does not allocate to pass it
	alg     string // configured algorithm
	allowed uint16 // algorithm.bit set of accepted algorithms
	keys    []key
}

// New parses and validates o. It fails when the JWKS is not valid JSON, holds a key
// of unknown kty or crv or with bad material, when the algorithm is unknown (or
// "none"), when an asymmetric algorithm has no JWKS key of its family, and when there
// is no key at all.
func New(o Options) (*Verifier, error) {
	name := o.Algorithm
	if name == "" {
		name = "HS256"
	}
	a, ok := lookupAlg(name)
	if !ok {
		return nil, fmt.Errorf("auth: new verifier: unsupported algorithm %q", o.Algorithm)
	}
	keys, err := parseJWKS(o.JWKS)
	if err != nil {
		return nil, err
	}
	v := &Verifier{secret: bytes.Clone(o.Secret), alg: name, allowed: a.bit, keys: keys}
	v.hmacKey = v.secret
	var families uint16
	for _, k := range keys {
		families |= familyBits(k.fam)
	}
	v.allowed |= families
	if len(v.secret) == 0 && len(keys) == 0 {
		return nil, errors.New("auth: new verifier: no key: set a secret or a JWKS")
	}
	if a.fam != famHMAC && families&a.bit == 0 {
		return nil, fmt.Errorf("auth: new verifier: algorithm %s needs a JWKS key of its type", name)
	}
	return v, nil
}

// Claims is a verified token's payload.
type Claims struct {
	// Role is the "role" claim, "" if absent (the caller defaults to anon).
	Role string
	// Sub is the "sub" claim, "" if absent.
	Sub string
	// Raw is the payload JSON as it was in the token, compacted if it held
	// insignificant whitespace. It becomes request.jwt.claims.
	Raw json.RawMessage
	// Exp is the "exp" claim, zero if absent.
	Exp time.Time
	// Map is the decoded payload (numbers are float64), for claims such as url,
	// scope, upsert and owner in signed-URL tokens.
	Map map[string]any
}

// Verify checks token's header, signature and exp/nbf/iat claims at time now and
// returns its claims. Every failure is an *Error whose Message is the reference's.
// aud and iss are not checked.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return Claims{}, newError(Malformed, msgInvalidCompact)
	}
	alg, kid, herr := parseHeader(h)
	if herr != nil {
		return Claims{}, herr
	}
	a, ok := lookupAlg(alg)
	if !ok || v.allowed&a.bit == 0 {
		return Claims{}, newError(UnsupportedAlg, msgAlgNotAllowed)
	}
	k, kerr := v.keyFor(a, kid)
	if kerr != nil {
		return Claims{}, kerr
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Claims{}, &Error{Kind: Malformed, Message: msgSigDecode, Err: err}
	}
	if err := a.method.Verify(token[:len(h)+1+len(p)], sig, k); err != nil {
		return Claims{}, &Error{Kind: BadSignature, Message: msgSigFailed, Err: err}
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, &Error{Kind: Malformed, Message: msgPayloadDecode, Err: err}
	}
	return parseClaims(payload, now)
}

// parseHeader decodes the protected header and returns its alg and kid. It decodes
// into a map, not a struct, so member names match exactly as in JSON.parse
// (encoding/json folds case for struct fields).
func parseHeader(seg string) (alg, kid string, _ *Error) {
	var hdr map[string]any
	if seg != "" { // jose treats an empty protected header as {}
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			return "", "", &Error{Kind: Malformed, Message: msgHeaderInvalid, Err: err}
		}
		if err := json.Unmarshal(b, &hdr); err != nil {
			return "", "", &Error{Kind: Malformed, Message: msgHeaderInvalid, Err: err}
		}
	}
	if c, ok := hdr["crit"]; ok {
		if err := checkCrit(c, hdr); err != nil {
			return "", "", err
		}
	}
	alg, _ = hdr["alg"].(string)
	if alg == "" {
		return "", "", newError(Malformed, msgAlgInvalid)
	}
	switch k := hdr["kid"].(type) {
	case nil:
	case string:
		kid = k
	default:
		return "", "", newError(Malformed, msgHeaderInvalid)
	}
	return alg, kid, nil
}

// checkCrit applies RFC 7515 §4.1.11 as jose does for JWTs: the only extension
// understood is b64, and a JWT must not use an unencoded payload.
func checkCrit(c any, hdr map[string]any) *Error {
	list, ok := c.([]any)
	if !ok || len(list) == 0 {
		return newError(Malformed, msgCritInvalid)
	}
	for _, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			return newError(Malformed, msgCritInvalid)
		}
		if s != "b64" {
			return newError(Malformed, fmt.Sprintf("Extension Header Parameter %q is not recognized", s))
		}
	}
	switch b := hdr["b64"].(type) {
	case nil:
		return newError(Malformed, `Extension Header Parameter "b64" is missing`)
	case bool:
		if !b {
			return newError(Malformed, msgUnencoded)
		}
		return nil
	}
	return newError(Malformed, msgB64Invalid)
}

// parseClaims decodes a verified payload and applies jose's claim checks: iat, nbf
// and exp must be numbers when present; nbf must not be after now and exp must be
// after now, both in whole seconds with no leeway.
func parseClaims(payload []byte, now time.Time) (Claims, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return Claims{}, &Error{Kind: Malformed, Message: msgClaimsNotObject, Err: err}
	}
	nowSec := float64(now.Unix())
	if iat, ok := m["iat"]; ok {
		if _, isNum := iat.(float64); !isNum {
			return Claims{}, newError(Malformed, `"iat" claim must be a number`)
		}
	}
	if v, ok := m["nbf"]; ok {
		nbf, isNum := v.(float64)
		if !isNum {
			return Claims{}, newError(Malformed, `"nbf" claim must be a number`)
		}
		if nbf > nowSec {
			return Claims{}, newError(NotYetValid, msgNotBefore)
		}
	}
	c := Claims{Map: m, Raw: payload}
	if v, ok := m["exp"]; ok {
		exp, isNum := v.(float64)
		if !isNum {
			return Claims{}, newError(Malformed, `"exp" claim must be a number`)
		}
		if exp <= nowSec {
			return Claims{}, newError(Expired, msgExpired)
		}
		c.Exp = unixTime(exp)
	}
	var err *Error
	if c.Role, err = stringClaim(m, "role"); err != nil {
		return Claims{}, err
	}
	if c.Sub, err = stringClaim(m, "sub"); err != nil {
		return Claims{}, err
	}
	if bytes.ContainsAny(payload, " \t\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err == nil {
			c.Raw = buf.Bytes()
		}
	}
	return c, nil
}

// stringClaim returns claim name, "" when absent or null, and an error when it is
// present but not a string: a role or owner must never be guessed.
func stringClaim(m map[string]any, name string) (string, *Error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", newError(Malformed, fmt.Sprintf("%q claim must be a string", name))
}

// unixTime converts a NumericDate to a time, clamping absurd values.
func unixTime(sec float64) time.Time {
	const limit = 1 << 53
	sec = math.Max(-limit, math.Min(limit, sec))
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC()
}
