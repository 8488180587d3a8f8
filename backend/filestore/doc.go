// Package filestore stores object bytes as files under one root directory.
//
// It owns the on-disk layout: how a key becomes a path (key.go), the
// metadata trailer appended to every data file (trailer.go), atomic writes
// through root/.tmp, and multipart uploads under root/.multipart. It imports
// only package backend of ours and must never import meta or the fronts
// (restapi, s3api).
//
// # Layout
//
// Each "/"-separated key segment is percent-encoded: bytes outside
// [A-Za-z0-9._-] and a '.' that would begin a file name become %XX. An encoded
// segment longer than 240 bytes is cut into several directory levels, every
// level but the last marked with a trailing '~'. The object's data file is the
// last segment followed by '@'. Encoding never produces '~' or '@', so the
// mapping is injective and a key "a/b" (file "a/b@") can live beside "a/b/c"
// (directory "a/b", file "a/b/c@"). Names starting with '.' are never produced,
// which keeps .tmp and .multipart apart from objects.
//
// A data file holds the object's bytes, then a small JSON record (ETag, size,
// content type, cache control), then a fixed 12-byte footer. Writing the
// metadata into the same file keeps a replace atomic: rename swaps bytes and
// metadata together, and Head reads only the tail of the file.
package filestore
