package meta

import "context"

// ProbeWrite runs only the permission part of the write path, for signing
// upload URLs (API.md §1.5): the key and bucket checks and the rolled-back
// INSERT (or, with in.Upsert, INSERT … ON CONFLICT DO UPDATE) under id.
// Unlike CheckWrite it skips the size and mime checks, which belong to the
// later upload, and it probes for the service role too, so signing an
// existing key without upsert fails (ResourceAlreadyExists) as in the
// reference.
func (s *Store) ProbeWrite(ctx context.Context, id Identity, in PutInput) error {
	if err := s.validName(in.Bucket, in.Name); err != nil {
		return err
	}
	return s.probe(ctx, id, in)
}
