// Package auth verifies and signs the JSON Web Tokens that both fronts accept: the
// Supabase user JWT on REST routes and S3 session-token requests, and the signed-URL
// tokens that the REST front mints and checks.
//
// It owns the key set (the static AUTH_JWT_SECRET plus the optional JWT_JWKS),
// the list of accepted algorithms, key selection by algorithm family and kid, the
// exp/nbf checks, and the jose-compatible error messages that clients see
// (see https://supabase.com/docs/guides/storage and supabase/storage
// src/internal/auth/jwt.ts, whose behaviour this package follows).
//
// The rules: only the configured algorithm and the families of keys present in the
// JWKS are accepted, never "none"; an HMAC secret never verifies an RS/PS/ES/EdDSA
// token and a public key never verifies an HS one; aud and iss are not required; exp
// and nbf are checked only when present, against a caller-supplied time.
//
// Package auth imports only the standard library and github.com/golang-jwt/jwt/v5
// (for the signature primitives). It must not import anything else of ours, pgx, or
// fiber; fronts map its *Error to the apierr catalogue.
package auth
