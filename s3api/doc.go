// Package s3api is the S3 front: one catch-all fiber route per mount that
// turns a request into an Op (parseOp, pure), authenticates it with SigV4
// (package sigv4) into a meta.Identity, calls meta, and renders results and
// errors as S3 XML.
//
// It imports meta, meta/apierr, meta/auth, backend types and sigv4, and
// never restapi.
package s3api
