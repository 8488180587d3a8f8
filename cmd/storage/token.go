package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/supagate/storage/meta/auth"
)

// token mints a JWT signed with the configured secret (or the one kept in
// the data directory), for local use: curl, tests, the bench tool.
func token(cfg Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "anon", "role claim (anon, authenticated, service_role)")
	sub := fs.String("sub", "", "sub claim (a user id)")
	exp := fs.Duration("exp", 0, "lifetime, e.g. 1h (0: no exp claim)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, _, err := jwtSecret(cfg)
	if err != nil {
		return err
	}
	if secret == "" {
		return errors.New("no JWT secret: set AUTH_JWT_SECRET or run serve once to generate one")
	}
	v, err := auth.New(auth.Options{Secret: []byte(secret), Algorithm: hsAlgorithm(cfg)})
	if err != nil {
		return err
	}
	tok, err := v.Sign(claims(*role, *sub, time.Now(), *exp))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func claims(role, sub string, now time.Time, exp time.Duration) map[string]any {
	c := map[string]any{"role": role, "iss": "storage", "iat": now.Unix()}
	if sub != "" {
		c["sub"] = sub
	}
	if exp > 0 {
		c["exp"] = now.Add(exp).Unix()
	}
	return c
}

// hsAlgorithm is the HMAC algorithm used to sign with the secret.
func hsAlgorithm(cfg Config) string {
	switch cfg.JWTAlgorithm {
	case "HS256", "HS384", "HS512":
		return cfg.JWTAlgorithm
	}
	return "HS256"
}
