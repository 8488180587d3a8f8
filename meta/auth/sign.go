package auth

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Sign returns a compact JWT carrying claims, signed with the static secret and the
// configured algorithm, which must be an HMAC one (header {"alg":…,"typ":"JWT"}, no
// kid, so Verify checks it against the same secret). Claims are signed as given: Sign
// adds no iat or exp. It is used for signed-URL tokens (API.md §2.6) and to mint the
// anon and service keys. It fails when there is no secret.
func (v *Verifier) Sign(claims map[string]any) (string, error) {
	if len(v.secret) == 0 {
		return "", errors.New("auth: sign: no HS secret configured")
	}
	a, _ := lookupAlg(v.alg)
	if a.fam != famHMAC {
		return "", fmt.Errorf("auth: sign: algorithm %s is not an HMAC algorithm", v.alg)
	}
	s, err := jwt.NewWithClaims(a.method, jwt.MapClaims(claims)).SignedString(v.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}
