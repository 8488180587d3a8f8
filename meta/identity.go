package meta

import (
	"encoding/json"
	"strconv"
)

// Role names used by the API. A caller's role is always one of the allowed
// roles (Options.Roles); a token never picks an arbitrary database role.
const (
	RoleAnon          = "anon"
	RoleAuthenticated = "authenticated"
	RoleService       = "service_role"
)

// Identity is who a request acts as, and the request facts Supabase exposes
// to policies. Every meta method takes it explicitly.
type Identity struct {
	Role   string          // database role, from the allow-list
	Sub    string          // JWT sub, "" for anon
	Claims json.RawMessage // the verified claims object, verbatim; nil means {"role":Role}
	JWT    string          // raw token, for request.jwt

	Method    string          // request.method
	Path      string          // request.path
	Headers   json.RawMessage // request.headers (a JSON object); nil means {}
	Operation string          // storage.operation, e.g. "storage.object.upload"
}

// Service returns the service-role identity used for steps that bypass RLS
// (bucket lookups, final row commits, public and signed reads).
func Service() Identity { return Identity{Role: RoleService} }

// Anon returns the anonymous identity.
func Anon() Identity { return Identity{Role: RoleAnon} }

// WithOp returns a copy of id carrying the storage.operation value.
func (id Identity) WithOp(op string) Identity {
	id.Operation = op
	return id
}

// AsService returns a copy of id that acts as service role but keeps the
// request facts (for the steps that bypass RLS).
func (id Identity) AsService() Identity {
	id.Role = RoleService
	id.Claims = nil
	id.Sub = ""
	id.JWT = ""
	return id
}

// IsService reports whether id bypasses RLS.
func (id Identity) IsService() bool { return id.Role == RoleService }

func (id Identity) claimsJSON() string {
	if len(id.Claims) > 0 {
		return string(id.Claims)
	}
	return `{"role":` + strconv.Quote(id.Role) + `}`
}

func (id Identity) headersJSON() string {
	if len(id.Headers) > 0 {
		return string(id.Headers)
	}
	return "{}"
}
