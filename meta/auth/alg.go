package auth

import "github.com/golang-jwt/jwt/v5"

// family is the key type an algorithm needs.
type family uint8

const (
	famHMAC family = iota + 1 // JWK kty "oct"
	famRSA                    // JWK kty "RSA"
	famEC                     // JWK kty "EC"
	famOKP                    // JWK kty "OKP"
)

// algorithm describes one JWS algorithm we accept.
type algorithm struct {
	name   string
	bit    uint16 // position in Verifier.allowed
	fam    family
	crv    string // required JWK crv for EC and OKP keys
	method jwt.SigningMethod
}

// lookupAlg returns the algorithm named by a JWS "alg" header. "none" and anything
// unknown report false. A switch, not a package-level table, so there is no
// mutable global state.
func lookupAlg(name string) (algorithm, bool) {
	switch name {
	case "HS256":
		return algorithm{name, 1 << 0, famHMAC, "", jwt.SigningMethodHS256}, true
	case "HS384":
		return algorithm{name, 1 << 1, famHMAC, "", jwt.SigningMethodHS384}, true
	case "HS512":
		return algorithm{name, 1 << 2, famHMAC, "", jwt.SigningMethodHS512}, true
	case "RS256":
		return algorithm{name, 1 << 3, famRSA, "", jwt.SigningMethodRS256}, true
	case "RS384":
		return algorithm{name, 1 << 4, famRSA, "", jwt.SigningMethodRS384}, true
	case "RS512":
		return algorithm{name, 1 << 5, famRSA, "", jwt.SigningMethodRS512}, true
	case "PS256":
		return algorithm{name, 1 << 6, famRSA, "", jwt.SigningMethodPS256}, true
	case "PS384":
		return algorithm{name, 1 << 7, famRSA, "", jwt.SigningMethodPS384}, true
	case "PS512":
		return algorithm{name, 1 << 8, famRSA, "", jwt.SigningMethodPS512}, true
	case "ES256":
		return algorithm{name, 1 << 9, famEC, "P-256", jwt.SigningMethodES256}, true
	case "ES384":
		return algorithm{name, 1 << 10, famEC, "P-384", jwt.SigningMethodES384}, true
	case "ES512":
		return algorithm{name, 1 << 11, famEC, "P-521", jwt.SigningMethodES512}, true
	case "EdDSA":
		return algorithm{name, 1 << 12, famOKP, "Ed25519", jwt.SigningMethodEdDSA}, true
	}
	return algorithm{}, false
}

// familyBits is the set of algorithms a key of family f can serve. Following the
// reference, an EC key enables all three ES algorithms; key selection then checks
// the curve.
func familyBits(f family) uint16 {
	switch f {
	case famHMAC:
		return 0b111
	case famRSA:
		return 0b111111 << 3
	case famEC:
		return 0b111 << 9
	case famOKP:
		return 1 << 12
	}
	return 0
}
