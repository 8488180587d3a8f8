package sigv4

import (
	"fmt"
	"net/http"
)

// Error is a SigV4 failure carrying the S3 error code, a message safe to show
// the client and the HTTP status S3 answers with. Every error this package
// returns for bad input is an *Error made from one of the sentinels below, so
// callers can test with errors.Is(err, ErrSignatureDoesNotMatch) or read Code
// with errors.As and render S3 XML. Errors that are not *Error (a failing
// SecretFunc, a broken connection) are the caller's own and mean 500.
type Error struct {
	Code       string // S3 error code, e.g. "SignatureDoesNotMatch"
	Message    string // safe to show the client
	HTTPStatus int    // the status S3 uses for Code

	kind *Error // the sentinel this error was made from
}

// Error returns the code and message.
func (e *Error) Error() string {
	return "sigv4: " + e.Code + ": " + e.Message
}

// Is reports whether target is the sentinel e was made from. Two sentinels
// may share a Code (ErrNoAuth and ErrAccessDenied are both AccessDenied), so
// the match is by sentinel, not by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e.kind != nil && e.kind == t
}

func sentinel(code string, status int, msg string) *Error {
	return &Error{Code: code, Message: msg, HTTPStatus: status}
}

// with returns a new error of kind e with its own message.
func (e *Error) with(msg string) *Error {
	return &Error{Code: e.Code, Message: msg, HTTPStatus: e.HTTPStatus, kind: e}
}

func (e *Error) withf(format string, args ...any) *Error {
	return e.with(fmt.Sprintf(format, args...))
}

// clone returns a new error of kind e with the sentinel's message.
func (e *Error) clone() *Error { return e.with(e.Message) }

// The sentinels, one per meaning. Codes and messages follow
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
var (
	// ErrNoAuth means the request carries neither an Authorization header nor
	// presigned query parameters: the caller decides whether anonymous access
	// is allowed. It renders as AccessDenied if the caller refuses.
	ErrNoAuth = sentinel("AccessDenied", http.StatusForbidden, "Access Denied")

	// ErrAccessDenied is S3's AccessDenied: a missing date, a presigned URL
	// not yet valid, headers sent but not signed.
	ErrAccessDenied = sentinel("AccessDenied", http.StatusForbidden, "Access Denied")

	// ErrRequestExpired is the AccessDenied S3 answers for a presigned URL
	// past its X-Amz-Expires.
	ErrRequestExpired = sentinel("AccessDenied", http.StatusForbidden, "Request has expired")

	// ErrUnknownAccessKey is InvalidAccessKeyId. A SecretFunc returns an error
	// wrapping it when it does not know the access key.
	ErrUnknownAccessKey = sentinel("InvalidAccessKeyId", http.StatusForbidden,
		"The AWS Access Key Id you provided does not exist in our records.")

	// ErrSignatureDoesNotMatch means a request, chunk or trailer signature is
	// wrong.
	ErrSignatureDoesNotMatch = sentinel("SignatureDoesNotMatch", http.StatusForbidden,
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")

	// ErrRequestTimeTooSkewed means the request time is further than the
	// allowed skew (15 minutes by default) from the server's clock.
	ErrRequestTimeTooSkewed = sentinel("RequestTimeTooSkewed", http.StatusForbidden,
		"The difference between the request time and the current time is too large.")

	// ErrAuthorizationHeaderMalformed means the Authorization header cannot be
	// parsed or its credential scope is wrong.
	ErrAuthorizationHeaderMalformed = sentinel("AuthorizationHeaderMalformed", http.StatusBadRequest,
		"The authorization header is malformed.")

	// ErrAuthorizationQueryParametersError means the presigned query
	// parameters are missing, repeated or malformed.
	ErrAuthorizationQueryParametersError = sentinel("AuthorizationQueryParametersError", http.StatusBadRequest,
		"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")

	// ErrInvalidArgument is S3's InvalidArgument: a bad x-amz-content-sha256
	// value, two authentication mechanisms in one request.
	ErrInvalidArgument = sentinel("InvalidArgument", http.StatusBadRequest, "Invalid Argument")

	// ErrInvalidRequest is S3's InvalidRequest: an unsupported signature
	// version, a missing x-amz-content-sha256, bad checksum headers.
	ErrInvalidRequest = sentinel("InvalidRequest", http.StatusBadRequest, "Invalid Request")

	// ErrIncompleteBody means an aws-chunked body is truncated or its framing
	// is broken, or its length disagrees with x-amz-decoded-content-length.
	ErrIncompleteBody = sentinel("IncompleteBody", http.StatusBadRequest,
		"You did not provide the number of bytes specified by the Content-Length HTTP header.")

	// ErrInvalidChunkSizeError means a signed chunk other than the last is
	// smaller than 8 KiB, or a chunk size is out of range.
	ErrInvalidChunkSizeError = sentinel("InvalidChunkSizeError", http.StatusForbidden,
		"Only the last chunk is allowed to have a size less than 8192 bytes")

	// ErrMalformedTrailer means the trailing headers of an aws-chunked body
	// are malformed, undeclared or missing.
	ErrMalformedTrailer = sentinel("MalformedTrailerError", http.StatusBadRequest,
		"The request contained trailing data that was not well-formed or did not conform to our published schema.")

	// ErrBadDigest means a Content-MD5 or x-amz-checksum-* value (header or
	// trailer) does not match the body.
	ErrBadDigest = sentinel("BadDigest", http.StatusBadRequest,
		"The Content-MD5 you specified did not match what we received.")

	// ErrInvalidDigest means the Content-MD5 header is not base64 of 16 bytes.
	ErrInvalidDigest = sentinel("InvalidDigest", http.StatusBadRequest,
		"The Content-MD5 you specified is not valid.")

	// ErrXAmzContentSHA256Mismatch means the body does not hash to the
	// x-amz-content-sha256 the client signed.
	ErrXAmzContentSHA256Mismatch = sentinel("XAmzContentSHA256Mismatch", http.StatusBadRequest,
		"The provided 'x-amz-content-sha256' header does not match what was computed.")
)
