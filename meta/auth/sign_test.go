package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSign(t *testing.T) {
	t.Parallel()
	secret := []byte("sign-secret-sign-secret-sign-secret")
	claims := map[string]any{
		"url": "avatars/me.png", "scope": "download", "role": "service_role",
		"iat": float64(testNow), "exp": float64(testNow + 60),
	}
	tests := []struct {
		name string
		alg  string
	}{
		{name: "round trips with the default algorithm", alg: ""},
		{name: "round trips with HS256", alg: "HS256"},
		{name: "round trips with HS384", alg: "HS384"},
		{name: "round trips with HS512", alg: "HS512"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Secret: append([]byte(nil), secret...), Algorithm: tc.alg}
			v, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			clear(opts.Secret) // New must have copied the secret
			token, err := v.Sign(claims)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := v.Verify(token, time.Unix(testNow, 0))
			if err != nil {
				t.Fatalf("Verify(Sign(claims)): %v", err)
			}
			if diff := cmp.Diff(claims, got.Map); diff != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", diff)
			}
			want := tc.alg
			if want == "" {
				want = "HS256"
			}
			h, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
			if err != nil {
				t.Fatal(err)
			}
			var header map[string]any
			if err := json.Unmarshal(h, &header); err != nil {
				t.Fatal(err)
			}
			if header["alg"] != want || header["kid"] != nil {
				t.Errorf("header = %v, want alg %s and no kid", header, want)
			}
		})
	}
}

func TestSignFails(t *testing.T) {
	t.Parallel()
	k := newTestKeys(t)
	tests := []struct {
		name    string
		opts    Options
		claims  map[string]any
		wantErr string
	}{
		{
			name:    "without a secret",
			opts:    Options{JWKS: jwksJSON(t, octJWK("o", []byte("jwks-only")))},
			wantErr: "auth: sign: no HS secret configured",
		},
		{
			name:    "when the configured algorithm is not HMAC",
			opts:    Options{Secret: []byte("s"), Algorithm: "RS256", JWKS: jwksJSON(t, rsaJWK("r", "", &k.rsa.PublicKey))},
			wantErr: "auth: sign: algorithm RS256 is not an HMAC algorithm",
		},
		{
			name:    "when a claim cannot be encoded",
			opts:    Options{Secret: []byte("s")},
			claims:  map[string]any{"bad": func() {}},
			wantErr: "auth: sign: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			token, err := v.Sign(tc.claims)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || token != "" {
				t.Errorf("Sign = %q, %v; want error %q", token, err, tc.wantErr)
			}
		})
	}
}
