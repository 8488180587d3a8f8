package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/supagate/storage/meta"
)

// s3Credentials manages the S3 access keys kept in Postgres:
//
//	storage s3-credentials create --role R [--sub S] [--claims JSON] [--description D]
//	storage s3-credentials list
//	storage s3-credentials delete ID|ACCESS_KEY
func s3Credentials(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: storage s3-credentials create|list|delete")
	}
	fs := flag.NewFlagSet("s3-credentials "+args[0], flag.ContinueOnError)
	role := fs.String("role", "authenticated", "role claim the key acts as")
	sub := fs.String("sub", "", "sub claim (the user id policies see)")
	extra := fs.String("claims", "", "the whole claims object as JSON (overrides --role and --sub)")
	desc := fs.String("description", "", "a note")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	sec, err := keptSecretOnly(cfg)
	if err != nil {
		return err
	}
	sealer, err := meta.NewSealer(sec)
	if err != nil {
		return err
	}
	e, err := open(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer e.close(log)
	switch args[0] {
	case "create":
		c := map[string]any{"role": *role}
		if *sub != "" {
			c["sub"] = *sub
		}
		raw, _ := json.Marshal(c)
		if *extra != "" {
			raw = json.RawMessage(*extra)
		}
		cred, err := e.store.CreateCredential(ctx, sealer, raw, *desc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id=%s\naccess_key_id=%s\nsecret_access_key=%s\nclaims=%s\n", cred.ID, cred.AccessKey, cred.Secret, cred.Claims)
	case "list":
		list, err := e.store.ListCredentials(ctx)
		if err != nil {
			return err
		}
		for _, c := range list {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.AccessKey, c.Claims, c.CreatedAt.Format(time.RFC3339), c.Description)
		}
	case "delete":
		if fs.NArg() != 1 {
			return errors.New("usage: storage s3-credentials delete ID|ACCESS_KEY")
		}
		return e.store.DeleteCredential(ctx, fs.Arg(0))
	default:
		return fmt.Errorf("unknown s3-credentials command %q", args[0])
	}
	return nil
}

func keptSecretOnly(cfg Config) (string, error) {
	s, _, err := keptSecret(cfg.DataDir, "encryption-key", cfg.EncryptionKey, 32)
	return s, err
}

// sweep finishes queued deletions, aborts stale uploads and removes bytes
// no row refers to; safe while servers run.
func sweep(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	grace := fs.Duration("grace", time.Hour, "keep unreferenced bytes younger than this (writes in flight)")
	ttl := fs.Duration("upload-ttl", 7*24*time.Hour, "abort multipart uploads older than this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	be, err := openBackend(ctx, cfg)
	if err != nil {
		return err
	}
	e, err := open(ctx, cfg, log, be)
	if err != nil {
		return err
	}
	defer e.close(log)
	st, err := e.store.Sweep(ctx, meta.SweepOptions{Grace: *grace, UploadTTL: *ttl})
	fmt.Fprintf(stdout, "reclaimed=%d scanned=%d orphans=%d stale_uploads=%d kept_recent=%d\n",
		st.Reclaimed, st.Scanned, st.Orphans, st.StaleUploads, st.SkippedRecent)
	return err
}
