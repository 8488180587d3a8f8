// Package s3store stores object bytes in one bucket of AWS S3 or any
// S3-compatible service, through aws-sdk-go-v2.
//
// It is the only package of ours that imports aws-sdk-go-v2 outside tests;
// SDK types never leave it. It imports package backend of ours and must
// never import meta or the fronts (restapi, s3api).
//
// Bodies stream: a Put of known size up to Options.PartSize is one PutObject
// fed straight from the caller's reader (with an unsigned payload, so the SDK
// never needs to seek); larger or unknown-length bodies become multipart
// uploads whose parts are read into at most Options.Concurrency reused
// buffers of Options.PartSize bytes.
package s3store
