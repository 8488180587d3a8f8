package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration, read from the environment once at
// start. Names follow Supabase Storage's where one exists; new ones carry a
// STORAGE_ prefix. The README lists every variable with its default.
type Config struct {
	DataDir string // STORAGE_DATA_DIR

	DatabaseURL      string        // DATABASE_URL; empty: a managed cluster in DataDir
	DatabaseMaxConns int32         // DATABASE_MAX_CONNECTIONS
	StatementTimeout time.Duration // DATABASE_STATEMENT_TIMEOUT (ms)

	JWTSecret    string // AUTH_JWT_SECRET, fallback PGRST_JWT_SECRET; empty: generated and kept in DataDir
	JWTAlgorithm string // AUTH_JWT_ALGORITHM
	JWKS         string // JWT_JWKS
	AnonKey      string // ANON_KEY
	ServiceKey   string // SERVICE_KEY

	Host string // SERVER_HOST
	Port int    // SERVER_PORT

	Backend         string        // STORAGE_BACKEND: file | s3
	FilePath        string        // STORAGE_FILE_BACKEND_PATH
	S3Bucket        string        // STORAGE_S3_BUCKET
	S3Endpoint      string        // STORAGE_S3_ENDPOINT
	S3Region        string        // STORAGE_S3_REGION
	S3ForcePath     bool          // STORAGE_S3_FORCE_PATH_STYLE
	S3AccessKey     string        // STORAGE_S3_ACCESS_KEY_ID
	S3SecretKey     string        // STORAGE_S3_SECRET_ACCESS_KEY
	S3PartSize      int64         // STORAGE_S3_PART_SIZE
	FileSizeLimit   int64         // UPLOAD_FILE_SIZE_LIMIT (bytes)
	SignedURLExpiry int           // UPLOAD_SIGNED_URL_EXPIRATION_TIME (seconds)
	EmptyBucketMax  int           // STORAGE_EMPTY_BUCKET_MAX
	TUSPartSize     int64         // TUS_PART_SIZE (MiB in the environment)
	TUSExpiry       time.Duration // TUS_URL_EXPIRY_MS
	ResponseSMaxAge int           // RESPONSE_S_MAXAGE (seconds)
	TenantID        string        // TENANT_ID
	Region          string        // REGION
	RESTRealStatus  bool          // STORAGE_REST_HTTP_STATUS=real
	Version         string        // VERSION

	S3AccessKeyID     string // S3_PROTOCOL_ACCESS_KEY_ID (service role); empty: generated and kept in DataDir
	S3SecretAccessKey string // S3_PROTOCOL_ACCESS_KEY_SECRET
	S3Prefix          string // S3_PROTOCOL_PREFIX
	S3Port            int    // S3_PROTOCOL_PORT; -1 (unset): no dedicated listener; 0: any free port
	S3VirtualHost     string // STORAGE_S3_VIRTUAL_HOST_DOMAIN
	EncryptionKey     string // AUTH_ENCRYPTION_KEY; empty: generated and kept in DataDir
	TrustForwarded    bool   // STORAGE_TRUST_FORWARDED_HEADERS

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // STORAGE_LOG_FORMAT: text | json

	SweepInterval time.Duration // STORAGE_SWEEP_INTERVAL; 0: no periodic sweep
	SweepGrace    time.Duration // STORAGE_SWEEP_GRACE: unreferenced bytes younger than this are kept
	HeaderTimeout time.Duration // STORAGE_HEADER_TIMEOUT: to receive a request's line and headers
	IdleTimeout   time.Duration // STORAGE_IDLE_TIMEOUT: longest silence of a client (body, response, keep-alive)
	S3Timeout     time.Duration // STORAGE_S3_TIMEOUT: longest wait for the S3 backend (response headers, each body read)
}

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests) and reports every problem at once.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	integer := func(name string, def int64, min int64) int64 {
		v := get(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: want a whole number ≥ %d, got %q", name, min, v))
			return def
		}
		return n
	}
	duration := func(name string, def time.Duration, zero bool) time.Duration {
		v := get(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !zero) {
			want := "a positive duration such as 30s or 1h"
			if zero {
				want = "a duration such as 30s or 1h, or 0"
			}
			errs = append(errs, fmt.Errorf("%s: want %s, got %q", name, want, v))
			return def
		}
		return d
	}
	boolean := func(name string, def bool) bool {
		v := get(name, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", name, v))
		}
		return b
	}
	c := Config{
		DataDir:           get("STORAGE_DATA_DIR", "./data"),
		DatabaseURL:       get("DATABASE_URL", ""),
		DatabaseMaxConns:  int32(integer("DATABASE_MAX_CONNECTIONS", 20, 1)),
		StatementTimeout:  time.Duration(integer("DATABASE_STATEMENT_TIMEOUT", 30000, 1)) * time.Millisecond,
		JWTSecret:         get("AUTH_JWT_SECRET", get("PGRST_JWT_SECRET", "")),
		JWTAlgorithm:      get("AUTH_JWT_ALGORITHM", "HS256"),
		JWKS:              get("JWT_JWKS", ""),
		AnonKey:           get("ANON_KEY", ""),
		ServiceKey:        get("SERVICE_KEY", ""),
		Host:              get("SERVER_HOST", "0.0.0.0"),
		Port:              int(integer("SERVER_PORT", 5000, 0)),
		Backend:           get("STORAGE_BACKEND", "file"),
		FilePath:          get("STORAGE_FILE_BACKEND_PATH", ""),
		S3Bucket:          get("STORAGE_S3_BUCKET", ""),
		S3Endpoint:        get("STORAGE_S3_ENDPOINT", ""),
		S3Region:          get("STORAGE_S3_REGION", get("REGION", "us-east-1")),
		S3ForcePath:       boolean("STORAGE_S3_FORCE_PATH_STYLE", false),
		S3AccessKey:       get("STORAGE_S3_ACCESS_KEY_ID", ""),
		S3SecretKey:       get("STORAGE_S3_SECRET_ACCESS_KEY", ""),
		S3PartSize:        integer("STORAGE_S3_PART_SIZE", 16<<20, 5<<20),
		FileSizeLimit:     integer("UPLOAD_FILE_SIZE_LIMIT", 50<<20, 0),
		SignedURLExpiry:   int(integer("UPLOAD_SIGNED_URL_EXPIRATION_TIME", 60, 1)),
		EmptyBucketMax:    int(integer("STORAGE_EMPTY_BUCKET_MAX", 200000, 1)),
		TUSPartSize:       integer("TUS_PART_SIZE", 50, 5) << 20,
		TUSExpiry:         time.Duration(integer("TUS_URL_EXPIRY_MS", 3600000, 1000)) * time.Millisecond,
		ResponseSMaxAge:   int(integer("RESPONSE_S_MAXAGE", 0, 0)),
		TenantID:          get("TENANT_ID", "stub"),
		Region:            get("REGION", "us-east-1"),
		RESTRealStatus:    false,
		Version:           get("VERSION", version),
		LogFormat:         get("STORAGE_LOG_FORMAT", "text"),
		S3AccessKeyID:     get("S3_PROTOCOL_ACCESS_KEY_ID", ""),
		S3SecretAccessKey: get("S3_PROTOCOL_ACCESS_KEY_SECRET", ""),
		S3Prefix:          get("S3_PROTOCOL_PREFIX", "/s3"),
		S3Port:            int(integer("S3_PROTOCOL_PORT", -1, 0)),
		S3VirtualHost:     get("STORAGE_S3_VIRTUAL_HOST_DOMAIN", ""),
		EncryptionKey:     get("AUTH_ENCRYPTION_KEY", ""),
		TrustForwarded:    boolean("STORAGE_TRUST_FORWARDED_HEADERS", false),
		SweepInterval:     duration("STORAGE_SWEEP_INTERVAL", time.Hour, true),
		SweepGrace:        duration("STORAGE_SWEEP_GRACE", time.Hour, false),
		HeaderTimeout:     duration("STORAGE_HEADER_TIMEOUT", 30*time.Second, false),
		IdleTimeout:       duration("STORAGE_IDLE_TIMEOUT", time.Minute, false),
		S3Timeout:         duration("STORAGE_S3_TIMEOUT", time.Minute, false),
	}
	if (c.S3AccessKeyID == "") != (c.S3SecretAccessKey == "") {
		errs = append(errs, errors.New("S3_PROTOCOL_ACCESS_KEY_ID and S3_PROTOCOL_ACCESS_KEY_SECRET: set both or neither"))
	}
	if c.S3Port > 65535 || (c.S3Port > 0 && c.S3Port == c.Port) {
		errs = append(errs, fmt.Errorf("S3_PROTOCOL_PORT: %d is not a free port of its own", c.S3Port))
	}
	if c.S3Prefix != "" && (!strings.HasPrefix(c.S3Prefix, "/") || c.S3Prefix == "/" || strings.Contains(c.S3Prefix, "*")) {
		errs = append(errs, fmt.Errorf("S3_PROTOCOL_PREFIX: want a path such as /s3, got %q", c.S3Prefix))
	}
	if c.Port > 65535 {
		errs = append(errs, fmt.Errorf("SERVER_PORT: %d is not a port", c.Port))
	}
	switch v := get("STORAGE_REST_HTTP_STATUS", "compat"); v {
	case "compat":
	case "real":
		c.RESTRealStatus = true
	default:
		errs = append(errs, fmt.Errorf("STORAGE_REST_HTTP_STATUS: want compat or real, got %q", v))
	}
	switch c.Backend {
	case "file":
	case "s3":
		if c.S3Bucket == "" {
			errs = append(errs, errors.New("STORAGE_S3_BUCKET: required when STORAGE_BACKEND=s3"))
		}
		if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
			errs = append(errs, errors.New("STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY: set both or neither"))
		}
	default:
		errs = append(errs, fmt.Errorf("STORAGE_BACKEND: want file or s3, got %q", c.Backend))
	}
	switch c.JWTAlgorithm {
	case "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA":
	default:
		errs = append(errs, fmt.Errorf("AUTH_JWT_ALGORITHM: unsupported %q", c.JWTAlgorithm))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		errs = append(errs, errors.New("AUTH_JWT_SECRET: too short (at least 16 characters; 32+ recommended)"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error, got %q", get("LOG_LEVEL", "")))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("STORAGE_LOG_FORMAT: want text or json, got %q", c.LogFormat))
	}
	if c.TenantID == "" || strings.ContainsAny(c.TenantID, "/\x00") {
		errs = append(errs, fmt.Errorf("TENANT_ID: %q is not a valid key segment", c.TenantID))
	}
	return c, errors.Join(errs...)
}
