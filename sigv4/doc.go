// Package sigv4 verifies AWS Signature Version 4 as Amazon S3 does: the
// Authorization header, presigned URLs (query parameters) and request bodies
// in every payload mode (hex SHA-256, UNSIGNED-PAYLOAD, aws-chunked with
// chained chunk signatures, with signed or unsigned trailers), together with
// the Content-MD5 and x-amz-checksum-* (CRC32, CRC32C, CRC64NVME, SHA1,
// SHA256) checks of the body.
//
// It owns the canonical request, the string to sign, the signing key and the
// streaming (chunk and trailer) verification. It does not own identities:
// Verify takes a plain Request view and a SecretFunc, and returns the
// Credential for the caller (s3api) to map to an identity. Its failures are
// *Error values carrying the S3 error code, which the caller maps to its
// error catalogue. Time is always passed in; nothing here reads the clock.
//
// A typical caller:
//
//	v := sigv4.New(sigv4.Options{})
//	cred, err := v.Verify(req, lookupSecret, time.Now())
//	if errors.Is(err, sigv4.ErrNoAuth) { /* anonymous */ }
//	body, err := v.Body(cred, req, stream)
//	n, err := backend.Put(ctx, key, body, body.Size(), …) // fails unless every check passed
//
// The package imports only the standard library, and nothing of ours. Tests
// may import aws-sdk-go-v2 to sign requests the way real clients do.
//
// References:
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
package sigv4
