// Package apierr is the error catalogue shared by both fronts: one Code per
// meaning, and one table of wire facts per Code (the S3 code and HTTP status,
// the Supabase REST statusCode, error label and wire status). s3api renders
// an Error as S3 XML and restapi as Supabase JSON; neither makes anything up.
//
// It imports only the standard library.
package apierr

import (
	"errors"
	"fmt"
)

// Code names one kind of failure.
type Code int

// The catalogue. Add a Code here and its entry in entries together; a test
// fails when one is missing.
const (
	Internal Code = iota
	NoSuchBucket
	NoSuchKey
	NoSuchUpload
	BucketNotEmpty
	BucketAlreadyExists
	BucketAlreadyOwnedByYou
	KeyAlreadyExists
	ResourceAlreadyExists
	AccessDenied
	InvalidJWT
	InvalidSignature
	ExpiredToken
	SignatureDoesNotMatch
	EntityTooLarge
	EntityTooSmall
	InvalidMimeType
	InvalidKey
	InvalidBucketName
	InvalidRange
	InvalidRequest
	InvalidArgument
	MissingParameter
	InvalidParameter
	InvalidUploadID
	InvalidChecksum
	BadDigest
	InvalidDigest
	MissingContentLength
	InvalidPart
	InvalidPartOrder
	MalformedXML
	MalformedJSON
	PreconditionFailed
	NotModified
	ResourceLocked
	LockTimeout
	ResourceReferenced
	RelatedResourceNotFound
	DatabaseTimeout
	DatabaseUnavailable
	DatabaseReadOnly
	DatabaseSchemaMismatch
	SlowDown
	NotImplemented
	MethodNotAllowed
	InvalidAccessKeyID
	RequestTimeTooSkewed
	AuthorizationHeaderMalformed
	AuthorizationQueryParametersError
	ContentSHA256Mismatch
	IncompleteBody
	InvalidChunkSize
	KeyTooLong
	RequestTimeout
	RequestHeaderTooLarge
	UnableToEmptyBucket
	codeCount // keep last
)

// Entry holds the wire facts of one Code.
type Entry struct {
	S3Code     string // S3 <Code>
	S3Status   int    // S3 HTTP status
	RESTCode   string // Supabase body "code"
	RESTStatus int    // Supabase body "statusCode" (sent as a string)
	RESTError  string // Supabase body "error" label; "" repeats RESTCode
	// RESTWire is the REST HTTP status when it differs from the default
	// (400 for handled errors, 500 for 500s); 0 means the default.
	RESTWire int
	Message  string // default message safe for clients
}

var entries = [codeCount]Entry{
	Internal:                          {"InternalError", 500, "InternalError", 500, "internal", 0, "Internal Server Error"},
	NoSuchBucket:                      {"NoSuchBucket", 404, "NoSuchBucket", 404, "Bucket not found", 0, "Bucket not found"},
	NoSuchKey:                         {"NoSuchKey", 404, "NoSuchKey", 404, "not_found", 0, "Object not found"},
	NoSuchUpload:                      {"NoSuchUpload", 404, "NoSuchUpload", 404, "", 0, "Upload not found"},
	BucketNotEmpty:                    {"BucketNotEmpty", 409, "ResourceNotEmpty", 409, "", 0, "The bucket you tried to delete is not empty"},
	BucketAlreadyExists:               {"BucketAlreadyExists", 409, "BucketAlreadyExists", 409, "Duplicate", 0, "The resource already exists"},
	BucketAlreadyOwnedByYou:           {"BucketAlreadyOwnedByYou", 409, "BucketAlreadyExists", 409, "Duplicate", 0, "Your previous request to create the named bucket succeeded and you already own it."},
	KeyAlreadyExists:                  {"PreconditionFailed", 412, "KeyAlreadyExists", 409, "Duplicate", 0, "The resource already exists"},
	ResourceAlreadyExists:             {"PreconditionFailed", 412, "ResourceAlreadyExists", 409, "Duplicate", 0, "The resource already exists"},
	AccessDenied:                      {"AccessDenied", 403, "AccessDenied", 403, "Unauthorized", 0, "Access denied"},
	InvalidJWT:                        {"InvalidToken", 400, "InvalidJWT", 400, "", 0, "Invalid JWT"},
	InvalidSignature:                  {"SignatureDoesNotMatch", 403, "InvalidSignature", 400, "", 0, "Invalid signature"},
	ExpiredToken:                      {"ExpiredToken", 400, "ExpiredToken", 400, "", 0, "The provided token has expired."},
	SignatureDoesNotMatch:             {"SignatureDoesNotMatch", 403, "SignatureDoesNotMatch", 403, "", 0, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	EntityTooLarge:                    {"EntityTooLarge", 400, "EntityTooLarge", 413, "Payload too large", 0, "The object exceeded the maximum allowed size"},
	EntityTooSmall:                    {"EntityTooSmall", 400, "EntityTooSmall", 400, "", 0, "Your proposed upload is smaller than the minimum allowed object size."},
	InvalidMimeType:                   {"InvalidArgument", 400, "InvalidMimeType", 415, "invalid_mime_type", 0, "mime type is not supported"},
	InvalidKey:                        {"InvalidArgument", 400, "InvalidKey", 400, "", 0, "Invalid key"},
	InvalidBucketName:                 {"InvalidBucketName", 400, "InvalidBucketName", 400, "Invalid Input", 0, "Bucket name invalid"},
	InvalidRange:                      {"InvalidRange", 416, "InvalidRange", 400, "invalid_range", 416, "The requested range is not satisfiable"},
	InvalidRequest:                    {"InvalidRequest", 400, "InvalidRequest", 400, "", 0, "Invalid request"},
	InvalidArgument:                   {"InvalidArgument", 400, "InvalidRequest", 400, "", 0, "Invalid argument"},
	MissingParameter:                  {"InvalidArgument", 400, "MissingParameter", 400, "", 0, "Missing parameter"},
	InvalidParameter:                  {"InvalidArgument", 400, "InvalidParameter", 400, "", 0, "Invalid parameter"},
	InvalidUploadID:                   {"NoSuchUpload", 404, "InvalidUploadId", 400, "", 0, "Invalid upload id"},
	InvalidChecksum:                   {"InvalidRequest", 400, "InvalidChecksum", 400, "", 0, "The checksum does not match"},
	BadDigest:                         {"BadDigest", 400, "InvalidChecksum", 400, "", 0, "The Content-MD5 you specified did not match what we received."},
	InvalidDigest:                     {"InvalidDigest", 400, "InvalidChecksum", 400, "", 0, "The Content-MD5 you specified is not valid."},
	MissingContentLength:              {"MissingContentLength", 411, "MissingContentLength", 400, "", 0, "You must provide the Content-Length HTTP header."},
	InvalidPart:                       {"InvalidPart", 400, "InvalidPart", 400, "", 0, "One or more of the specified parts could not be found."},
	InvalidPartOrder:                  {"InvalidPartOrder", 400, "InvalidPartOrder", 400, "", 0, "The list of parts was not in ascending order."},
	MalformedXML:                      {"MalformedXML", 400, "InvalidRequest", 400, "", 0, "The XML you provided was not well-formed or did not validate against our published schema."},
	MalformedJSON:                     {"InvalidRequest", 400, "InvalidRequest", 400, "", 0, "Body is not valid JSON"},
	PreconditionFailed:                {"PreconditionFailed", 412, "PreconditionFailed", 412, "", 0, "At least one of the pre-conditions you specified did not hold"},
	NotModified:                       {"NotModified", 304, "NotModified", 304, "", 304, "Not Modified"},
	ResourceLocked:                    {"OperationAborted", 409, "ResourceLocked", 423, "", 0, "The resource is locked"},
	LockTimeout:                       {"SlowDown", 503, "LockTimeout", 503, "acquiring_lock_timeout", 0, "acquiring lock timeout"},
	ResourceReferenced:                {"OperationAborted", 409, "ResourceReferenced", 409, "", 0, "The resource is still referenced"},
	RelatedResourceNotFound:           {"InvalidRequest", 404, "InvalidRequest", 404, "", 0, "A related resource does not exist"},
	DatabaseTimeout:                   {"ServiceUnavailable", 503, "DatabaseTimeout", 544, "", 544, "The database timed out"},
	DatabaseUnavailable:               {"ServiceUnavailable", 503, "DatabaseError", 503, "", 503, "The database is unavailable"},
	DatabaseReadOnly:                  {"ServiceUnavailable", 503, "DatabaseReadOnly", 503, "", 503, "The database is read-only"},
	DatabaseSchemaMismatch:            {"ServiceUnavailable", 503, "DatabaseSchemaMismatch", 503, "", 503, "The database schema does not match"},
	SlowDown:                          {"SlowDown", 503, "SlowDown", 429, "too_many_connections", 429, "Please reduce your request rate."},
	NotImplemented:                    {"NotImplemented", 501, "NotSupported", 501, "", 501, "A header or query you provided implies functionality that is not implemented."},
	MethodNotAllowed:                  {"MethodNotAllowed", 405, "InvalidRequest", 405, "", 405, "The specified method is not allowed against this resource."},
	InvalidAccessKeyID:                {"InvalidAccessKeyId", 403, "InvalidAccessKeyId", 403, "", 0, "The AWS Access Key Id you provided does not exist in our records."},
	RequestTimeTooSkewed:              {"RequestTimeTooSkewed", 403, "RequestTimeTooSkewed", 403, "", 0, "The difference between the request time and the server's time is too large."},
	AuthorizationHeaderMalformed:      {"AuthorizationHeaderMalformed", 400, "InvalidRequest", 400, "", 0, "The authorization header is malformed."},
	AuthorizationQueryParametersError: {"AuthorizationQueryParametersError", 400, "InvalidRequest", 400, "", 0, "Error parsing the X-Amz-Credential parameter."},
	ContentSHA256Mismatch:             {"XAmzContentSHA256Mismatch", 400, "InvalidChecksum", 400, "", 0, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	IncompleteBody:                    {"IncompleteBody", 400, "InvalidRequest", 400, "", 0, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	InvalidChunkSize:                  {"InvalidChunkSizeError", 400, "InvalidRequest", 400, "", 0, "Only the last chunk is allowed to have a size less than 8192 bytes"},
	KeyTooLong:                        {"KeyTooLongError", 400, "InvalidKey", 400, "", 0, "Your key is too long"},
	RequestTimeout:                    {"RequestTimeout", 400, "RequestTimeout", 408, "", 408, "Your socket connection to the server was not read from or written to within the timeout period."},
	RequestHeaderTooLarge:             {"RequestHeaderSectionTooLarge", 400, "InvalidRequest", 431, "", 431, "Your request header section exceeds the maximum allowed size."},
	UnableToEmptyBucket:               {"InvalidRequest", 409, "InvalidRequest", 409, "", 0, "Unable to empty the bucket because it contains too many objects"},
}

// Lookup returns the wire facts of c; an unknown Code yields Internal's.
func Lookup(c Code) Entry {
	if c < 0 || c >= codeCount {
		return entries[Internal]
	}
	return entries[c]
}

// Error is a catalogue error: a Code, a message safe to show the client and
// an optional cause that is logged but never sent.
type Error struct {
	Code     Code
	Message  string // safe to show the client; "" means the entry's default
	Resource string // bucket/key, when known
	UploadID string // for multipart errors that name the upload
	Err      error  // cause: logged, never sent
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Msg()
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", Lookup(e.Code).S3Code, msg, e.Err)
	}
	return Lookup(e.Code).S3Code + ": " + msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Msg returns the client-facing message.
func (e *Error) Msg() string {
	if e.Message != "" {
		return e.Message
	}
	return Lookup(e.Code).Message
}

// Entry returns the wire facts of e's Code.
func (e *Error) Entry() Entry { return Lookup(e.Code) }

// New returns an Error with a client-facing message ("" for the default).
func New(c Code, msg string) *Error { return &Error{Code: c, Message: msg} }

// Newf is New with a formatted message.
func Newf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with a cause.
func Wrap(c Code, err error, msg string) *Error { return &Error{Code: c, Message: msg, Err: err} }

// WithResource returns a copy of e naming the resource.
func (e *Error) WithResource(r string) *Error {
	c := *e
	c.Resource = r
	return &c
}

// From returns err as a catalogue Error: nil for nil, the Error itself when
// err is or wraps one, and Internal wrapping err otherwise.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Err: err}
}

// Is reports whether err is a catalogue Error with code c.
func Is(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}
