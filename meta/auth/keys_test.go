package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// testKeys are the private keys a test signs with. Each test generates its own.
type testKeys struct {
	rsa   *rsa.PrivateKey
	ec256 *ecdsa.PrivateKey
	ec384 *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{rsa: r, ec256: e256, ec384: e384, ed: ed}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// withMeta adds kid and alg to a JWK when they are not empty.
func withMeta(m map[string]any, kid, alg string) map[string]any {
	if kid != "" {
		m["kid"] = kid
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func rsaJWK(kid, alg string, k *rsa.PublicKey) map[string]any {
	e := big.NewInt(int64(k.E)).Bytes()
	return withMeta(map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(e)}, kid, alg)
}

func ecJWK(t testing.TB, kid string, k *ecdsa.PublicKey) map[string]any {
	t.Helper()
	point, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	size := (len(point) - 1) / 2
	return withMeta(map[string]any{
		"kty": "EC",
		"crv": k.Curve.Params().Name,
		"x":   b64(point[1 : 1+size]),
		"y":   b64(point[1+size:]),
	}, kid, "")
}

func okpJWK(kid string, k ed25519.PublicKey) map[string]any {
	return withMeta(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}, kid, "")
}

func octJWK(kid string, secret []byte) map[string]any {
	return withMeta(map[string]any{"kty": "oct", "k": b64(secret)}, kid, "")
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mint builds a compact JWS from header and the payload JSON, signed by method with
// key. A nil method leaves the signature empty (alg none).
func mint(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, payload string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64([]byte(payload))
	if method == nil {
		return input + "."
	}
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// hdr is a header with alg and, when not empty, kid.
func hdr(alg, kid string) map[string]any {
	return withMeta(map[string]any{}, kid, alg)
}
