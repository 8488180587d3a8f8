package auth

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

const testNow = 1_700_000_000

var (
	hs256 = jwt.SigningMethodHS256
	hs384 = jwt.SigningMethodHS384
	hs512 = jwt.SigningMethodHS512
)

func TestVerify(t *testing.T) {
	t.Parallel()
	k := newTestKeys(t)
	other := newTestKeys(t)
	secret := []byte("super-secret-jwt-token-with-at-least-32-characters-long")
	octSecret := []byte("a-second-hmac-key-published-in-the-jwks-as-oct")
	now := time.Unix(testNow, 0)

	rsaPEM, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPEM})

	secretOnly := Options{Secret: secret}
	full := Options{Secret: secret, JWKS: jwksJSON(t,
		rsaJWK("rsa-1", "", &k.rsa.PublicKey),
		rsaJWK("rsa-rs256", "RS256", &other.rsa.PublicKey),
		ecJWK(t, "ec-256", &k.ec256.PublicKey),
		ecJWK(t, "ec-384", &k.ec384.PublicKey),
		okpJWK("ed-1", k.ed.Public().(ed25519.PublicKey)),
		octJWK("hs-1", octSecret),
	)}
	kidless := Options{JWKS: jwksJSON(t,
		rsaJWK("", "", &k.rsa.PublicKey),
		ecJWK(t, "", &k.ec256.PublicKey),
		okpJWK("", k.ed.Public().(ed25519.PublicKey)),
	)}
	rsaOnly := Options{JWKS: jwksJSON(t, rsaJWK("rsa-1", "", &k.rsa.PublicKey))}

	claims := `{"sub":"u-1","role":"authenticated"}`
	expIn := func(d int) string { return fmt.Sprintf(`{"role":"anon","exp":%d}`, testNow+d) }
	good := mint(t, hs256, secret, hdr("HS256", ""), claims)
	goodParts := strings.Split(good, ".")

	tests := []struct {
		name     string
		opts     Options
		token    string
		wantKind Kind // 0: the token verifies
		wantMsg  string
	}{
		{name: "accepts an HS256 token signed with the secret", opts: secretOnly, token: good},
		{
			name:  "accepts an HS384 token when HS384 is configured",
			opts:  Options{Secret: secret, Algorithm: "HS384"},
			token: mint(t, hs384, secret, hdr("HS384", ""), claims),
		},
		{
			name:  "accepts an HS512 token when HS512 is configured",
			opts:  Options{Secret: secret, Algorithm: "HS512"},
			token: mint(t, hs512, secret, hdr("HS512", ""), claims),
		},
		{
			name: "rejects an HS512 token when only HS256 is configured", opts: secretOnly,
			token:    mint(t, hs512, secret, hdr("HS512", ""), claims),
			wantKind: UnsupportedAlg, wantMsg: msgAlgNotAllowed,
		},
		{
			name: "rejects a token signed with another secret", opts: secretOnly,
			token:    mint(t, hs256, []byte("not-the-secret"), hdr("HS256", ""), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects a token whose payload was changed", opts: secretOnly,
			token:    goodParts[0] + "." + b64([]byte(`{"sub":"u-1","role":"service_role"}`)) + "." + goodParts[2],
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects a token whose signature was cut short", opts: secretOnly,
			token:    good[:len(good)-4],
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects an expired token", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), expIn(-1)),
			wantKind: Expired, wantMsg: msgExpired,
		},
		{
			name: "rejects a token that expires at this very second", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), expIn(0)),
			wantKind: Expired, wantMsg: msgExpired,
		},
		{
			name: "accepts a token that expires in one second", opts: secretOnly,
			token: mint(t, hs256, secret, hdr("HS256", ""), expIn(1)),
		},
		{
			name: "rejects a token whose nbf is in the future", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), fmt.Sprintf(`{"nbf":%d}`, testNow+60)),
			wantKind: NotYetValid, wantMsg: msgNotBefore,
		},
		{
			name: "accepts a token whose nbf is now", opts: secretOnly,
			token: mint(t, hs256, secret, hdr("HS256", ""), fmt.Sprintf(`{"nbf":%d}`, testNow)),
		},
		{
			name: "accepts a token without exp", opts: secretOnly,
			token: mint(t, hs256, secret, hdr("HS256", ""), `{"role":"anon"}`),
		},
		{
			name: "rejects alg none", opts: full,
			token:    mint(t, nil, nil, hdr("none", ""), claims),
			wantKind: UnsupportedAlg, wantMsg: msgAlgNotAllowed,
		},
		{
			name: "rejects alg none carrying a signature", opts: secretOnly,
			token:    mint(t, nil, nil, hdr("none", ""), claims) + goodParts[2],
			wantKind: UnsupportedAlg, wantMsg: msgAlgNotAllowed,
		},
		{
			name: "rejects an HS256 token keyed with the RSA public key of a JWKS kid", opts: full,
			token:    mint(t, hs256, rsaPEM, hdr("HS256", "rsa-1"), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects an HS256 token keyed with the RSA modulus of a JWKS kid", opts: full,
			token:    mint(t, hs256, k.rsa.N.Bytes(), hdr("HS256", "rsa-1"), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects an HS256 token when the JWKS holds only public keys and there is no secret", opts: rsaOnly,
			token:    mint(t, hs256, rsaPEM, hdr("HS256", ""), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects an RS256 header carrying an HMAC signature", opts: full,
			token:    mint(t, hs256, secret, hdr("RS256", "rsa-1"), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects an RS256 token when only a secret is configured", opts: secretOnly,
			token:    mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", ""), claims),
			wantKind: UnsupportedAlg, wantMsg: msgAlgNotAllowed,
		},
		{
			name: "accepts an RS256 token by kid", opts: full,
			token: mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", "rsa-1"), claims),
		},
		{
			name: "accepts an RS512 token by kid", opts: full,
			token: mint(t, jwt.SigningMethodRS512, k.rsa, hdr("RS512", "rsa-1"), claims),
		},
		{
			name: "accepts a PS256 token by kid", opts: full,
			token: mint(t, jwt.SigningMethodPS256, k.rsa, hdr("PS256", "rsa-1"), claims),
		},
		{
			name: "accepts an ES256 token by kid", opts: full,
			token: mint(t, jwt.SigningMethodES256, k.ec256, hdr("ES256", "ec-256"), claims),
		},
		{
			name: "accepts an ES384 token by kid", opts: full,
			token: mint(t, jwt.SigningMethodES384, k.ec384, hdr("ES384", "ec-384"), claims),
		},
		{
			name: "accepts an EdDSA token by kid", opts: full,
			token: mint(t, jwt.SigningMethodEdDSA, k.ed, hdr("EdDSA", "ed-1"), claims),
		},
		{
			name: "accepts an HS512 token by the kid of a JWKS oct key", opts: full,
			token: mint(t, hs512, octSecret, hdr("HS512", "hs-1"), claims),
		},
		{
			name: "falls back to the secret for an HS256 token with an unknown kid", opts: full,
			token: mint(t, hs256, secret, hdr("HS256", "nope"), claims),
		},
		{
			name: "accepts an RS256 token without kid when the JWKS has a kid-less RSA key", opts: kidless,
			token: mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", ""), claims),
		},
		{
			name: "accepts an ES256 token without kid when the JWKS has a kid-less EC key", opts: kidless,
			token: mint(t, jwt.SigningMethodES256, k.ec256, hdr("ES256", ""), claims),
		},
		{
			name: "accepts an EdDSA token without kid when the JWKS has a kid-less OKP key", opts: kidless,
			token: mint(t, jwt.SigningMethodEdDSA, k.ed, hdr("EdDSA", ""), claims),
		},
		{
			name: "rejects an RS256 token without kid when every RSA key has a kid", opts: full,
			token:    mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", ""), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects an RS256 token with an unknown kid", opts: full,
			token:    mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", "rsa-2"), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects an RS256 token whose kid names an EC key", opts: full,
			token:    mint(t, jwt.SigningMethodRS256, k.rsa, hdr("RS256", "ec-256"), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects an ES256 token whose kid names a P-384 key", opts: full,
			token:    mint(t, jwt.SigningMethodES256, k.ec256, hdr("ES256", "ec-384"), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects a PS256 token whose kid names a key restricted to RS256", opts: full,
			token:    mint(t, jwt.SigningMethodPS256, other.rsa, hdr("PS256", "rsa-rs256"), claims),
			wantKind: NoKey, wantMsg: msgNoKey,
		},
		{
			name: "rejects an ES256 token signed by another key under a known kid", opts: full,
			token:    mint(t, jwt.SigningMethodES256, other.ec256, hdr("ES256", "ec-256"), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{
			name: "rejects an EdDSA token signed by another key under a known kid", opts: full,
			token:    mint(t, jwt.SigningMethodEdDSA, other.ed, hdr("EdDSA", "ed-1"), claims),
			wantKind: BadSignature, wantMsg: msgSigFailed,
		},
		{name: "rejects an empty token", opts: secretOnly, token: "", wantKind: Malformed, wantMsg: msgInvalidCompact},
		{name: "rejects garbage", opts: secretOnly, token: "not a jwt", wantKind: Malformed, wantMsg: msgInvalidCompact},
		{
			name: "rejects a token with two segments", opts: secretOnly,
			token: goodParts[0] + "." + goodParts[1], wantKind: Malformed, wantMsg: msgInvalidCompact,
		},
		{
			name: "rejects a token with four segments", opts: secretOnly,
			token: good + ".x", wantKind: Malformed, wantMsg: msgInvalidCompact,
		},
		{
			name: "rejects a compact JWE", opts: secretOnly,
			token: "a.b.c.d.e", wantKind: Malformed, wantMsg: msgInvalidCompact,
		},
		{
			name: "rejects a header that is not base64url", opts: secretOnly,
			token: "!!!." + goodParts[1] + "." + goodParts[2], wantKind: Malformed, wantMsg: msgHeaderInvalid,
		},
		{
			name: "rejects a header that is not JSON", opts: secretOnly,
			token: b64([]byte("{alg")) + "." + goodParts[1] + "." + goodParts[2], wantKind: Malformed, wantMsg: msgHeaderInvalid,
		},
		{
			name: "rejects a header without alg", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"typ": "JWT"}, claims),
			wantKind: Malformed, wantMsg: msgAlgInvalid,
		},
		{
			name: "rejects an empty header", opts: secretOnly,
			token: "." + goodParts[1] + "." + goodParts[2], wantKind: Malformed, wantMsg: msgAlgInvalid,
		},
		{
			name: "does not fold the case of header names", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"ALG": "HS256"}, claims),
			wantKind: Malformed, wantMsg: msgAlgInvalid,
		},
		{
			name: "rejects a numeric alg", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"alg": 256}, claims),
			wantKind: Malformed, wantMsg: msgAlgInvalid,
		},
		{
			name: "rejects a numeric kid", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"alg": "HS256", "kid": 1}, claims),
			wantKind: Malformed, wantMsg: msgHeaderInvalid,
		},
		{
			name: "rejects an unknown critical header", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"alg": "HS256", "crit": []string{"exp"}, "exp": 1}, claims),
			wantKind: Malformed, wantMsg: `Extension Header Parameter "exp" is not recognized`,
		},
		{
			name: "rejects an unencoded payload", opts: secretOnly,
			token:    mint(t, hs256, secret, map[string]any{"alg": "HS256", "crit": []string{"b64"}, "b64": false}, claims),
			wantKind: Malformed, wantMsg: msgUnencoded,
		},
		{
			name: "rejects a signature that is not base64url", opts: secretOnly,
			token: goodParts[0] + "." + goodParts[1] + ".@@@", wantKind: Malformed, wantMsg: msgSigDecode,
		},
		{
			name: "rejects a payload that is not base64url", opts: secretOnly,
			token:    signedAsIs(t, goodParts[0]+".e30*", secret),
			wantKind: Malformed, wantMsg: msgPayloadDecode,
		},
		{
			name: "rejects a payload that is a JSON array", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `[1,2]`),
			wantKind: Malformed, wantMsg: msgClaimsNotObject,
		},
		{
			name: "rejects a payload that is JSON null", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `null`),
			wantKind: Malformed, wantMsg: msgClaimsNotObject,
		},
		{
			name: "rejects a payload that is not JSON", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `{"role":`),
			wantKind: Malformed, wantMsg: msgClaimsNotObject,
		},
		{
			name: "rejects an exp that is a string", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `{"exp":"1900000000"}`),
			wantKind: Malformed, wantMsg: `"exp" claim must be a number`,
		},
		{
			name: "rejects an nbf that is a string", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `{"nbf":"1"}`),
			wantKind: Malformed, wantMsg: `"nbf" claim must be a number`,
		},
		{
			name: "rejects an iat that is a string", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `{"iat":"1"}`),
			wantKind: Malformed, wantMsg: `"iat" claim must be a number`,
		},
		{
			name: "rejects a role that is not a string", opts: secretOnly,
			token:    mint(t, hs256, secret, hdr("HS256", ""), `{"role":["service_role"]}`),
			wantKind: Malformed, wantMsg: `"role" claim must be a string`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := New(tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			c, err := v.Verify(tc.token, now)
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Map == nil || c.Raw == nil {
					t.Errorf("Verify returned empty claims %+v", c)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error = %v, want *Error", err)
			}
			if e.Kind != tc.wantKind || e.Message != tc.wantMsg {
				t.Errorf("Verify error = (%v, %q), want (%v, %q)", e.Kind, e.Message, tc.wantKind, tc.wantMsg)
			}
			if c.Map != nil || c.Raw != nil {
				t.Errorf("Verify returned claims %+v with an error", c)
			}
		})
	}
}

// signedAsIs HMAC-signs a signing input that may not be valid base64url.
func signedAsIs(t *testing.T, input string, secret []byte) string {
	t.Helper()
	sig, err := hs256.Sign(input, secret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func TestVerifyClaims(t *testing.T) {
	t.Parallel()
	secret := []byte("claims-secret")
	v, err := New(Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		payload string
		want    Claims
	}{
		{
			name:    "extracts role, sub, exp and the raw payload",
			payload: `{"sub":"u-1","role":"authenticated","exp":1700000600,"email":"a@b.c","app":{"x":[1,true]}}`,
			want: Claims{
				Role: "authenticated",
				Sub:  "u-1",
				Raw:  json.RawMessage(`{"sub":"u-1","role":"authenticated","exp":1700000600,"email":"a@b.c","app":{"x":[1,true]}}`),
				Exp:  time.Unix(1700000600, 0).UTC(),
				Map: map[string]any{
					"sub": "u-1", "role": "authenticated", "exp": float64(1700000600),
					"email": "a@b.c", "app": map[string]any{"x": []any{float64(1), true}},
				},
			},
		},
		{
			name:    "leaves role, sub and exp empty when absent",
			payload: `{"iss":"supabase"}`,
			want:    Claims{Raw: json.RawMessage(`{"iss":"supabase"}`), Map: map[string]any{"iss": "supabase"}},
		},
		{
			name:    "treats a null role as absent",
			payload: `{"role":null}`,
			want:    Claims{Raw: json.RawMessage(`{"role":null}`), Map: map[string]any{"role": nil}},
		},
		{
			name:    "compacts a payload with whitespace but keeps spaces inside strings",
			payload: "{ \"role\" : \"anon\",\n \"note\": \"a b\" }",
			want: Claims{
				Role: "anon",
				Raw:  json.RawMessage(`{"role":"anon","note":"a b"}`),
				Map:  map[string]any{"role": "anon", "note": "a b"},
			},
		},
		{
			name:    "keeps a fractional exp",
			payload: `{"exp":1700000600.5}`,
			want: Claims{
				Raw: json.RawMessage(`{"exp":1700000600.5}`),
				Exp: time.Unix(1700000600, 5e8).UTC(),
				Map: map[string]any{"exp": 1700000600.5},
			},
		},
		{
			name:    "keeps signed-URL claims in the map",
			payload: `{"url":"avatars/a b.png","scope":"upload","upsert":true,"owner":"u-2"}`,
			want: Claims{
				Raw: json.RawMessage(`{"url":"avatars/a b.png","scope":"upload","upsert":true,"owner":"u-2"}`),
				Map: map[string]any{"url": "avatars/a b.png", "scope": "upload", "upsert": true, "owner": "u-2"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := mint(t, hs256, secret, hdr("HS256", ""), tc.payload)
			got, err := v.Verify(token, time.Unix(testNow, 0))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Transformer("string", func(r json.RawMessage) string { return string(r) })); diff != "" {
				t.Errorf("Verify claims mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorUnwrapsTheCause(t *testing.T) {
	t.Parallel()
	v, err := New(Options{Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, hs256, []byte("other"), hdr("HS256", ""), `{}`)
	_, err = v.Verify(token, time.Unix(testNow, 0))
	if !errors.Is(err, jwt.ErrSignatureInvalid) {
		t.Errorf("Verify error = %v, want it to wrap jwt.ErrSignatureInvalid", err)
	}
	if got, want := err.Error(), "auth: verify jwt: signature verification failed: signature is invalid"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
