// Package meta is the shared core of both fronts: the Postgres pool,
// identity-scoped transactions under which Row Level Security decides every
// permission, the SQL for buckets, objects, multipart uploads and
// credentials, and the upload, download, copy, move, delete and list
// algorithms.
//
// It is the only package (with migrations) that talks SQL and imports pgx.
// It imports backend (the interface), migrations and meta/apierr, and never
// restapi, s3api or fiber.
package meta
