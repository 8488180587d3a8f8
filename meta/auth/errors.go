package auth

// Kind classifies why Verify rejected a token. Callers choose their wire error from
// it (for example ExpiredToken versus InvalidJWT for signed URLs, API.md §2.6).
type Kind uint8

const (
	// Malformed means the token is not a well-formed compact JWS carrying a JSON
	// object payload, or a header or claim has the wrong type.
	Malformed Kind = iota + 1
	// BadSignature means a key was found but the signature does not verify with it.
	BadSignature
	// Expired means the "exp" claim is at or before the verification time.
	Expired
	// NotYetValid means the "nbf" claim is after the verification time.
	NotYetValid
	// UnsupportedAlg means the "alg" header names an algorithm that is not accepted
	// (including "none").
	UnsupportedAlg
	// NoKey means no configured key can verify a token with this alg and kid.
	NoKey
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed"
	case BadSignature:
		return "bad signature"
	case Expired:
		return "expired"
	case NotYetValid:
		return "not yet valid"
	case UnsupportedAlg:
		return "unsupported alg"
	case NoKey:
		return "no key"
	}
	return "unknown"
}

// Messages the reference implementation (the jose library) produces. Clients see
// them verbatim, so they are part of the wire format.
const (
	msgInvalidCompact  = "Invalid Compact JWS"
	msgHeaderInvalid   = "JWS Protected Header is invalid"
	msgAlgInvalid      = `JWS "alg" (Algorithm) Header Parameter missing or invalid`
	msgAlgNotAllowed   = `"alg" (Algorithm) Header Parameter value not allowed`
	msgCritInvalid     = `"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present`
	msgB64Invalid      = `The "b64" (base64url-encode payload) Header Parameter must be a boolean`
	msgUnencoded       = "JWTs MUST NOT use unencoded payload"
	msgNoKey           = "no applicable key found in the JSON Web Key Set"
	msgSigDecode       = "Failed to base64url decode the signature"
	msgSigFailed       = "signature verification failed"
	msgPayloadDecode   = "Failed to base64url decode the payload"
	msgClaimsNotObject = "JWT Claims Set must be a top-level JSON object"
	msgExpired         = `"exp" claim timestamp check failed`
	msgNotBefore       = `"nbf" claim timestamp check failed`
)

// Error is the only error type Verify returns. Message is safe to show the client
// (API.md §2.2 puts it in the body); Err, when set, is the underlying cause for logs.
// Use errors.As to get it and switch on Kind.
type Error struct {
	Kind    Kind   // why the token was rejected
	Message string // the reference's wording, safe to send
	Err     error  // cause for logs (e.g. jwt.ErrSignatureInvalid); may be nil
}

// Error returns the message with the package's operation prefix, and the cause
// when there is one. Send Message, not Error(), to clients.
func (e *Error) Error() string {
	if e.Err != nil {
		return "auth: verify jwt: " + e.Message + ": " + e.Err.Error()
	}
	return "auth: verify jwt: " + e.Message
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func newError(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }
