package restapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/auth"
)

// authMode says what a route requires of the Authorization header.
type authMode int

const (
	authRequired authMode = iota // a valid JWT; RLS applies as its role
	authOptional                 // a missing or invalid JWT becomes anon
	authService                  // a valid JWT whose role is service_role
	authNone                     // no JWT is read: access is decided by code (public bucket, signed token)
)

// identity verifies the request's bearer token per mode and returns the
// identity the request's SQL runs as, carrying the request facts Supabase
// exposes to policies. An identity carries a JWT only when one was verified
// (authenticated reports it).
func (h *Handler) identity(c *fiber.Ctx, mode authMode, op string) (meta.Identity, error) {
	id := meta.Identity{
		Method:    c.Method(),
		Path:      string(c.Request().URI().PathOriginal()),
		Operation: op,
	}
	if h.opts.HeadersToPolicies {
		id.Headers = headersJSON(c)
	}
	if mode == authNone {
		id.Role = meta.RoleAnon
		return id, nil
	}
	header := c.Get(fiber.HeaderAuthorization)
	token, hasBearer := bearer(header)
	if header == "" && mode != authOptional {
		return id, schemaError("headers must have required property 'authorization'")
	}
	if !hasBearer || token == "" {
		if mode == authOptional {
			id.Role = meta.RoleAnon
			return id, nil
		}
		return id, apierr.New(apierr.AccessDenied, "Invalid Compact JWS")
	}
	claims, err := h.opts.Verifier.Verify(token, h.now())
	if err != nil {
		if mode == authOptional {
			id.Role = meta.RoleAnon
			return id, nil
		}
		return id, jwtError(err)
	}
	id.Role = claims.Role
	if id.Role == "" {
		id.Role = meta.RoleAnon
	}
	id.Sub, id.Claims, id.JWT = claims.Sub, claims.Raw, token
	if mode == authService && id.Role != meta.RoleService {
		return id, &restError{code: apierr.AccessDenied, msg: "Access denied: Invalid role", wire: 403}
	}
	return id, nil
}

func (h *Handler) now() time.Time {
	if h.opts.Now != nil {
		return h.opts.Now()
	}
	return time.Now()
}

func bearer(header string) (string, bool) {
	if len(header) < 7 || !strings.EqualFold(header[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(header[7:]), true
}

// jwtError turns a verification failure into AccessDenied carrying the
// message clients see from the reference (jose's wording).
func jwtError(err error) error {
	var ae *auth.Error
	msg := err.Error()
	if errAs(err, &ae) {
		msg = ae.Message
	}
	return apierr.Wrap(apierr.AccessDenied, err, msg)
}

// headersJSON renders the request headers as the JSON object Supabase puts
// into request.headers (lower-case names), without the Authorization header.
func headersJSON(c *fiber.Ctx) json.RawMessage {
	m := map[string]string{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		if name == "authorization" || name == "cookie" {
			return
		}
		m[name] = string(v)
	})
	b, _ := json.Marshal(m)
	return b
}

// authenticated reports whether the request carried a valid JWT (the
// reference's request.isAuthenticated).
func authenticated(id meta.Identity) bool { return id.JWT != "" }
