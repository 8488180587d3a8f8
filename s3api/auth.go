package s3api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/sigv4"
)

// authenticate verifies the request's signature and maps its access key to
// an identity: the static pair acts as service role, a stored credential
// with its own claims, and session-token mode as the user of the JWT in
// X-Amz-Security-Token.
func (h *Handler) authenticate(c *fiber.Ctx, v *sigv4.Verifier, r sigv4.Request, op Op) (sigv4.Credential, meta.Identity, error) {
	var resolved meta.Identity
	secret := func(ak string) (string, error) {
		s, id, err := h.resolve(c.UserContext(), ak)
		resolved = id
		return s, err
	}
	cred, err := v.Verify(r, secret, h.opts.Now())
	if err != nil {
		if errors.Is(err, sigv4.ErrNoAuth) {
			return cred, meta.Identity{}, apierr.New(apierr.AccessDenied, "Access Denied: the request carries no signature")
		}
		return cred, meta.Identity{}, err
	}
	id := resolved
	if h.opts.TenantID != "" && cred.AccessKey == h.opts.TenantID {
		if cred.SessionToken == "" {
			return cred, id, apierr.New(apierr.AccessDenied, "the anon key needs a user JWT in X-Amz-Security-Token")
		}
		claims, err := h.opts.JWT.Verify(cred.SessionToken, h.opts.Now())
		if err != nil {
			return cred, id, apierr.Wrap(apierr.AccessDenied, err, "invalid session token")
		}
		id = meta.Identity{Role: claims.Role, Sub: claims.Sub, Claims: claims.Raw, JWT: cred.SessionToken}
		if id.Role == "" {
			id.Role = meta.RoleAnon
		}
	}
	id.Method, id.Path, id.Operation = c.Method(), string(c.Request().URI().PathOriginal()), "storage.s3."+op.Kind.String()
	return cred, id, nil
}

// resolve returns the secret of an access key and the identity it acts as.
func (h *Handler) resolve(ctx context.Context, ak string) (string, meta.Identity, error) {
	switch {
	case ak == "":
		return "", meta.Identity{}, sigv4.ErrUnknownAccessKey
	case h.opts.AccessKey != "" && ak == h.opts.AccessKey:
		return h.opts.SecretKey, meta.Service(), nil
	case h.opts.TenantID != "" && ak == h.opts.TenantID && h.opts.AnonKey != "":
		return h.opts.AnonKey, meta.Anon(), nil
	}
	if e, ok := h.creds.get(ak); ok {
		return e.secret, e.id, nil
	}
	if h.opts.Sealer == nil {
		return "", meta.Identity{}, sigv4.ErrUnknownAccessKey
	}
	cr, err := h.opts.Store.ResolveCredential(ctx, h.opts.Sealer, ak)
	if apierr.Is(err, apierr.InvalidAccessKeyID) {
		return "", meta.Identity{}, sigv4.ErrUnknownAccessKey
	}
	if err != nil {
		return "", meta.Identity{}, err
	}
	id, err := identityFromClaims(cr.Claims)
	if err != nil {
		return "", meta.Identity{}, err
	}
	h.creds.put(ak, credEntry{secret: cr.Secret, id: id})
	return cr.Secret, id, nil
}

// credCache keeps resolved stored credentials for a short time, so an S3
// request costs no extra round trip to find its key.
type credCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]credEntry
}

type credEntry struct {
	secret string
	id     meta.Identity
	until  time.Time
}

func newCredCache(ttl time.Duration) *credCache {
	return &credCache{ttl: ttl, m: map[string]credEntry{}}
}

func (c *credCache) get(ak string) (credEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[ak]
	if !ok || time.Now().After(e.until) {
		delete(c.m, ak)
		return credEntry{}, false
	}
	return e, true
}

func (c *credCache) put(ak string, e credEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	e.until = time.Now().Add(c.ttl)
	c.m[ak] = e
}
