package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	k := newTestKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("new-secret")
	ec := ecJWK(t, "ec-1", &k.ec256.PublicKey)
	offCurve := map[string]any{"kty": "EC", "crv": "P-256", "x": ec["y"], "y": ec["x"]}
	withPrivate := ecJWK(t, "ec-2", &k.ec256.PublicKey)
	withPrivate["d"] = b64(k.ec256.D.Bytes())
	withPrivate["use"] = "sig"

	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" when New succeeds
	}{
		{name: "accepts a secret alone", opts: Options{Secret: secret}},
		{name: "accepts a JWKS alone", opts: Options{JWKS: jwksJSON(t, rsaJWK("r", "RS256", &k.rsa.PublicKey))}},
		{name: "accepts an empty JWKS next to a secret", opts: Options{Secret: secret, JWKS: []byte(" ")}},
		{name: "accepts a JWKS with an empty key list next to a secret", opts: Options{Secret: secret, JWKS: jwksJSON(t)}},
		{name: "accepts an asymmetric algorithm with a key of its type", opts: Options{Algorithm: "ES256", JWKS: jwksJSON(t, ec)}},
		{name: "ignores private members of a JWK", opts: Options{JWKS: jwksJSON(t, withPrivate)}},
		{
			name: "accepts padded standard base64 in an oct key",
			opts: Options{JWKS: []byte(`{"keys":[{"kty":"oct","kid":"o","k":"+/+/AA=="}]}`)},
		},
		{
			name: "accepts Ed25519 as the alg of an OKP key",
			opts: Options{JWKS: jwksJSON(t, withMeta(okpJWK("e", k.ed.Public().(ed25519.PublicKey)), "", "Ed25519"))},
		},
		{name: "rejects invalid JSON", opts: Options{Secret: secret, JWKS: []byte(`{"keys":[`)}, wantErr: "parse jwks"},
		{name: "rejects a JWKS without keys", opts: Options{Secret: secret, JWKS: []byte(`{}`)}, wantErr: `missing "keys"`},
		{
			name:    "rejects an unknown kty",
			opts:    Options{JWKS: []byte(`{"keys":[{"kty":"DSA","kid":"d"}]}`)},
			wantErr: `unsupported kty "DSA"`,
		},
		{
			name:    "rejects an unknown EC curve",
			opts:    Options{JWKS: jwksJSON(t, map[string]any{"kty": "EC", "crv": "secp256k1", "x": ec["x"], "y": ec["y"]})},
			wantErr: `unsupported EC crv "secp256k1"`,
		},
		{
			name:    "rejects an Ed448 key",
			opts:    Options{JWKS: jwksJSON(t, map[string]any{"kty": "OKP", "crv": "Ed448", "x": b64(make([]byte, 57))})},
			wantErr: `unsupported OKP crv "Ed448"`,
		},
		{
			name:    "rejects an RSA key shorter than 2048 bits",
			opts:    Options{JWKS: jwksJSON(t, rsaJWK("r", "", &small.PublicKey))},
			wantErr: "rsa modulus has 1024 bits",
		},
		{name: "rejects an EC point that is not on the curve", opts: Options{JWKS: jwksJSON(t, offCurve)}, wantErr: "ec point"},
		{
			name:    "rejects an EC coordinate of the wrong size",
			opts:    Options{JWKS: jwksJSON(t, map[string]any{"kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"]})},
			wantErr: "ec x and y must be 48-byte",
		},
		{name: "rejects an empty oct key", opts: Options{JWKS: []byte(`{"keys":[{"kty":"oct","k":""}]}`)}, wantErr: "oct k is empty"},
		{
			name:    "rejects a key whose alg does not fit its type",
			opts:    Options{JWKS: jwksJSON(t, rsaJWK("r", "ES256", &k.rsa.PublicKey))},
			wantErr: `alg "ES256" does not fit kty "RSA"`,
		},
		{
			name:    "rejects an EC key whose alg does not fit its curve",
			opts:    Options{JWKS: jwksJSON(t, withMeta(ecJWK(t, "e", &k.ec384.PublicKey), "", "ES256"))},
			wantErr: `alg "ES256" does not fit kty "EC" crv "P-384"`,
		},
		{
			name:    "reports every bad key",
			opts:    Options{JWKS: []byte(`{"keys":[{"kty":"DSA"},{"kty":"oct","k":""}]}`)},
			wantErr: "key 0 (kid \"\"): unsupported kty \"DSA\"\nauth: parse jwks: key 1",
		},
		{name: "rejects alg none", opts: Options{Secret: secret, Algorithm: "none"}, wantErr: `unsupported algorithm "none"`},
		{name: "rejects an unknown algorithm", opts: Options{Secret: secret, Algorithm: "HS1024"}, wantErr: "unsupported algorithm"},
		{
			name:    "rejects an asymmetric algorithm without a key of its type",
			opts:    Options{Secret: secret, Algorithm: "RS256", JWKS: jwksJSON(t, ec)},
			wantErr: "algorithm RS256 needs a JWKS key",
		},
		{name: "rejects a configuration without any key", opts: Options{}, wantErr: "no key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("New = %v, %v; want a verifier", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "auth: ") {
				t.Errorf("New error %q lacks the auth: prefix", err)
			}
		})
	}
}
