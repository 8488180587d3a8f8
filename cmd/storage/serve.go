package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/backend/s3store"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/pgcluster"
	"github.com/supagate/storage/restapi"
	"github.com/supagate/storage/s3api"
)

// env is what serve and migrate share: the database (managed or given),
// the store and a way to stop it all.
type env struct {
	store   *meta.Store
	cluster *pgcluster.Cluster
}

func (e *env) close(log *slog.Logger) {
	if e.store != nil {
		e.store.Close()
	}
	if e.cluster != nil && e.cluster.Started {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.cluster.Stop(ctx); err != nil {
			log.Error("stop managed postgres", "err", err)
		} else {
			log.Info("managed postgres stopped")
		}
	}
}

// open starts the managed cluster when no DATABASE_URL is set, opens the
// store on the configured backend and migrates.
func open(ctx context.Context, cfg Config, log *slog.Logger, be backend.Backend) (*env, error) {
	e := &env{}
	dsn := cfg.DatabaseURL
	if dsn == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(cfg.DataDir, "postgres")})
		if err != nil {
			return nil, err
		}
		e.cluster = c
		dsn = c.DSN("postgres")
		log.Info("managed postgres running", "dir", filepath.Join(cfg.DataDir, "postgres"), "started", c.Started)
	}
	st, err := meta.Open(ctx, meta.Options{DSN: dsn, MaxConns: cfg.DatabaseMaxConns,
		StatementTimeout: cfg.StatementTimeout, Backend: be, Tenant: cfg.TenantID, Logger: log,
		FileSizeLimit: cfg.FileSizeLimit})
	if err != nil {
		e.close(log)
		return nil, err
	}
	e.store = st
	applied, err := st.Migrate(ctx)
	if err != nil {
		e.close(log)
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "names", strings.Join(applied, ","))
	}
	return e, nil
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	e, err := open(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	e.close(log)
	fmt.Fprintln(stdout, "migrations are up to date")
	return nil
}

func openBackend(ctx context.Context, cfg Config) (backend.Backend, error) {
	if cfg.Backend == "s3" {
		return s3store.New(ctx, s3store.Options{
			Bucket: cfg.S3Bucket, Endpoint: cfg.S3Endpoint, Region: cfg.S3Region,
			ForcePathStyle: cfg.S3ForcePath, AccessKeyID: cfg.S3AccessKey,
			SecretAccessKey: cfg.S3SecretKey, PartSize: cfg.S3PartSize, Timeout: cfg.S3Timeout,
		})
	}
	root := cfg.FilePath
	if root == "" {
		root = filepath.Join(cfg.DataDir, "objects")
	}
	return filestore.New(root)
}

// keptSecret returns value when set, else the secret kept in the data
// directory under name, generating it (random hex of n bytes) on first use.
// generated reports a new secret.
func keptSecret(dataDir, name, value string, n int) (secret string, generated bool, err error) {
	if value != "" {
		return value, false, nil
	}
	path := filepath.Join(dataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, err
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	s := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// jwtSecret returns the configured secret, or the one kept in the data
// directory (none when only a JWKS is configured).
func jwtSecret(cfg Config) (string, bool, error) {
	if cfg.JWKS != "" && cfg.JWTSecret == "" {
		return "", false, nil
	}
	return keptSecret(cfg.DataDir, "jwt-secret", cfg.JWTSecret, 32)
}

// secrets are the keys serve uses; on embedded defaults the missing ones
// are generated once and kept in the data directory.
type secrets struct {
	jwt, anonKey, serviceKey string
	s3Key, s3Secret          string
	encryption               string
}

func loadSecrets(cfg Config, stdout io.Writer) (secrets, error) {
	var s secrets
	var err error
	if s.jwt, _, err = jwtSecret(cfg); err != nil {
		return s, fmt.Errorf("jwt secret: %w", err)
	}
	if s.encryption, _, err = keptSecret(cfg.DataDir, "encryption-key", cfg.EncryptionKey, 32); err != nil {
		return s, fmt.Errorf("encryption key: %w", err)
	}
	s.s3Key, s.s3Secret = cfg.S3AccessKeyID, cfg.S3SecretAccessKey
	if s.s3Key == "" {
		if s.s3Key, _, err = keptSecret(cfg.DataDir, "s3-access-key-id", "", 10); err != nil {
			return s, err
		}
		s.s3Key = strings.ToUpper(s.s3Key)
		if s.s3Secret, _, err = keptSecret(cfg.DataDir, "s3-secret-access-key", "", 20); err != nil {
			return s, err
		}
	}
	s.anonKey, s.serviceKey = cfg.AnonKey, cfg.ServiceKey
	if s.jwt != "" {
		signer, err := auth.New(auth.Options{Secret: []byte(s.jwt), Algorithm: hsAlgorithm(cfg)})
		if err != nil {
			return s, err
		}
		if s.anonKey == "" {
			s.anonKey, _ = signer.Sign(claims(meta.RoleAnon, "", time.Unix(0, 0), 0))
		}
		if s.serviceKey == "" {
			s.serviceKey, _ = signer.Sign(claims(meta.RoleService, "", time.Unix(0, 0), 0))
		}
	}
	if cfg.JWTSecret == "" && s.jwt != "" {
		fmt.Fprintf(stdout, "ANON_KEY=%s\nSERVICE_KEY=%s\n", s.anonKey, s.serviceKey)
	}
	if cfg.S3AccessKeyID == "" {
		fmt.Fprintf(stdout, "S3 access key (service role): %s / %s\n", s.s3Key, s.s3Secret)
	}
	return s, nil
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	started := time.Now()
	sec, err := loadSecrets(cfg, stdout)
	if err != nil {
		return err
	}
	verifier, err := auth.New(auth.Options{Secret: []byte(sec.jwt), Algorithm: cfg.JWTAlgorithm, JWKS: []byte(cfg.JWKS)})
	if err != nil {
		return err
	}
	sealer, err := meta.NewSealer(sec.encryption)
	if err != nil {
		return err
	}
	be, err := openBackend(ctx, cfg)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	e, err := open(ctx, cfg, log, be)
	if err != nil {
		return err
	}
	defer e.close(log)

	rest := restapi.New(restapi.Options{Store: e.store, Verifier: verifier, Logger: log,
		Version: cfg.Version, RealStatus: cfg.RESTRealStatus, FileSizeLimit: cfg.FileSizeLimit,
		SignedUploadExpiry: time.Duration(cfg.SignedURLExpiry) * time.Second,
		EmptyBucketMax:     cfg.EmptyBucketMax, SMaxAge: cfg.ResponseSMaxAge,
		TUSPartSize: cfg.TUSPartSize, TUSExpiry: cfg.TUSExpiry, TrustForwarded: cfg.TrustForwarded})
	defer rest.Close() // the TUS lock connections
	s3 := s3api.New(s3api.Options{Store: e.store, JWT: verifier, Sealer: sealer,
		AccessKey: sec.s3Key, SecretKey: sec.s3Secret, TenantID: cfg.TenantID, AnonKey: sec.anonKey,
		Region: cfg.Region, VirtualHostDomain: cfg.S3VirtualHost, ForwardedHost: cfg.TrustForwarded, Logger: log})
	lim := edgeLimits{header: cfg.HeaderTimeout, idle: cfg.IdleTimeout}
	apps := []*fiber.App{newApp(log, lim, rest, s3, cfg.S3Prefix)}
	addrs := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}
	if cfg.S3Port >= 0 {
		apps = append(apps, newS3App(log, lim, s3))
		addrs = append(addrs, net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.S3Port)))
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go e.store.RunReclaimer(bg, time.Minute)
	if cfg.SweepInterval > 0 {
		go runSweeper(bg, e.store, log, cfg.SweepInterval, meta.SweepOptions{Grace: cfg.SweepGrace, KeysPerSecond: sweepKeysPerSecond})
	}

	errc := make(chan error, len(apps))
	for i, app := range apps {
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			return err
		}
		ln = idleListener{Listener: ln, idle: cfg.IdleTimeout}
		log.Info("listening", "addr", ln.Addr().String(), "startup", time.Since(started).Round(time.Millisecond))
		fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
		go func() { errc <- app.Listener(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	for _, app := range apps {
		if err := app.ShutdownWithTimeout(30 * time.Second); err != nil {
			log.Error("shutdown", "err", err)
		}
	}
	return nil
}

// sweepKeysPerSecond paces the background sweep's walk over the backend, so
// that it never competes with requests for the database or the backend.
const sweepKeysPerSecond = 2000

// runSweeper runs the full sweep of `storage sweep` every interval until
// ctx ends: queued deletions, stale multipart uploads, and bytes no row
// refers to that are older than the grace period. Several servers may
// sweep at once: every step is idempotent.
func runSweeper(ctx context.Context, st *meta.Store, log *slog.Logger, interval time.Duration, o meta.SweepOptions) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := st.Sweep(ctx, o)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("sweep", "err", err, "reclaimed", s.Reclaimed, "orphans", s.Orphans)
		case s.Reclaimed+s.Orphans+s.StaleUploads > 0:
			log.Info("sweep", "reclaimed", s.Reclaimed, "scanned", s.Scanned, "orphans", s.Orphans,
				"stale_uploads", s.StaleUploads, "kept_recent", s.SkippedRecent)
		}
	}
}
