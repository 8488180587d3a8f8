// Package restapi is the Supabase Storage REST front: the /bucket and
// /object routes, /health, /status and /version on fiber, JWT checks, and
// rendering of results and errors in Supabase's JSON shapes (API.md §1,
// §10). routes.go holds the route table; one file per family follows
// (bucket.go, upload.go, download.go, sign.go, list.go, object_ops.go).
//
// Handlers parse the request, build a meta.Identity and call meta; they
// return errors to one renderer (render.go). Object bytes stream both ways:
// uploads are read from the request body stream (multipart forms with
// mime/multipart, never buffered) and downloads are handed to fasthttp as a
// body stream, which a filestore reader turns into sendfile(2).
//
// The package imports meta, meta/apierr, meta/auth and backend types, and
// never s3api or sigv4.
package restapi
