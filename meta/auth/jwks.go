package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// minRSABits is the smallest RSA modulus accepted, as jose requires for RS*/PS*.
const minRSABits = 2048

// key is one parsed JWKS entry, ready for the signature primitives.
type key struct {
	kid string // "" when absent
	alg string // the JWK's "alg", "" when absent; restricts the key to that algorithm
	fam family
	crv string // EC and OKP only
	pub any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// jwk holds the JWK members we read (RFC 7517, RFC 7518 §6). Private members (d, p,
// q, …) are ignored, so a JWKS holding private keys still yields only public ones.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	K   string `json:"k"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a JWT_JWKS value. Empty input means no keys. Every bad key is
// reported, joined into one error.
func parseJWKS(data []byte) ([]key, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var set struct {
		Keys *[]jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: parse jwks: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`auth: parse jwks: missing "keys" array`)
	}
	keys := make([]key, 0, len(*set.Keys))
	var errs []error
	for i, j := range *set.Keys {
		k, err := parseJWK(j)
		if err != nil {
			errs = append(errs, fmt.Errorf("auth: parse jwks: key %d (kid %q): %w", i, j.Kid, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

// parseJWK turns one JWK into a key, checking kty, crv, alg and the key material.
func parseJWK(j jwk) (key, error) {
	k := key{kid: j.Kid, alg: j.Alg, crv: j.Crv}
	var err error
	switch j.Kty {
	case "oct":
		k.fam = famHMAC
		k.pub, err = parseOct(j)
	case "RSA":
		k.fam = famRSA
		k.pub, err = parseRSA(j)
	case "EC":
		k.fam = famEC
		k.pub, err = parseEC(j)
	case "OKP":
		k.fam = famOKP
		k.pub, err = parseOKP(j)
		if k.alg == "Ed25519" { // RFC 9864's fully-specified name for EdDSA over Ed25519
			k.alg = "EdDSA"
		}
	default:
		return key{}, fmt.Errorf("unsupported kty %q", j.Kty)
	}
	if err != nil {
		return key{}, err
	}
	if k.alg != "" {
		a, ok := lookupAlg(k.alg)
		if !ok || a.fam != k.fam || (a.crv != "" && a.crv != k.crv) {
			return key{}, fmt.Errorf("alg %q does not fit kty %q crv %q", j.Alg, j.Kty, j.Crv)
		}
	}
	return k, nil
}

func parseOct(j jwk) ([]byte, error) {
	b, err := decodeKeyB64(j.K)
	if err != nil {
		return nil, fmt.Errorf("oct k: %w", err)
	}
	if len(b) == 0 {
		return nil, errors.New("oct k is empty")
	}
	return b, nil
}

func parseRSA(j jwk) (*rsa.PublicKey, error) {
	n, err := decodeKeyB64(j.N)
	if err != nil {
		return nil, fmt.Errorf("rsa n: %w", err)
	}
	e, err := decodeKeyB64(j.E)
	if err != nil {
		return nil, fmt.Errorf("rsa e: %w", err)
	}
	nn := new(big.Int).SetBytes(n)
	if nn.BitLen() < minRSABits {
		return nil, fmt.Errorf("rsa modulus has %d bits, want at least %d", nn.BitLen(), minRSABits)
	}
	ee := new(big.Int).SetBytes(e)
	if !ee.IsInt64() || ee.Int64() < 3 || ee.Int64() > 1<<31-1 || ee.Bit(0) == 0 {
		return nil, errors.New("rsa exponent is invalid")
	}
	return &rsa.PublicKey{N: nn, E: int(ee.Int64())}, nil
}

func parseEC(j jwk) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("unsupported EC crv %q", j.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := decodeKeyB64(j.X)
	y, errY := decodeKeyB64(j.Y)
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, fmt.Errorf("ec x and y must be %d-byte base64url values", size)
	}
	point := make([]byte, 0, 1+2*size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("ec point: %w", err)
	}
	return pub, nil
}

func parseOKP(j jwk) (ed25519.PublicKey, error) {
	if j.Crv != "Ed25519" {
		return nil, fmt.Errorf("unsupported OKP crv %q", j.Crv)
	}
	x, err := decodeKeyB64(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("okp x must be a %d-byte base64url value", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// decodeKeyB64 decodes JWK key material. It is lenient as the reference is
// (Node's Buffer accepts both alphabets and optional padding): key material comes
// from the operator, not from the token.
func decodeKeyB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// keyFor picks the key that verifies a token with algorithm a and header kid
// (API.md §2.2). HMAC: a kid-less token in the configured algorithm uses the static
// secret; otherwise the first oct key whose kid matches or is absent; otherwise the
// static secret. Asymmetric: the first key of the right family whose kid equals the
// token's (both absent counts) and whose alg and curve fit. A public key is never
// returned for an HMAC algorithm, nor the secret for an asymmetric one.
func (v *Verifier) keyFor(a algorithm, kid string) (any, *Error) {
	if a.fam == famHMAC {
		if kid == "" && a.name == v.alg && len(v.secret) > 0 {
			return v.hmacKey, nil
		}
		for i := range v.keys {
			k := &v.keys[i]
			if k.fam == famHMAC && (k.kid == "" || k.kid == kid) && (k.alg == "" || k.alg == a.name) {
				return k.pub, nil
			}
		}
		if len(v.secret) > 0 {
			return v.hmacKey, nil
		}
		return nil, newError(NoKey, msgNoKey)
	}
	for i := range v.keys {
		k := &v.keys[i]
		if k.fam == a.fam && k.kid == kid && (k.alg == "" || k.alg == a.name) && (a.crv == "" || k.crv == a.crv) {
			return k.pub, nil
		}
	}
	return nil, newError(NoKey, msgNoKey)
}
