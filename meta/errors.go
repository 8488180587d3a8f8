package meta

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/supagate/storage/meta/apierr"
)

// sqlstates maps Postgres SQLSTATEs to the catalogue.
var sqlstates = map[string]apierr.Code{
	"42501": apierr.AccessDenied,           // insufficient_privilege: RLS WITH CHECK, missing grant
	"23505": apierr.ResourceAlreadyExists,  // unique_violation
	"23503": apierr.ResourceReferenced,     // foreign_key_violation (see mapPgError)
	"55P03": apierr.ResourceLocked,         // lock_not_available
	"57014": apierr.DatabaseTimeout,        // query_canceled (statement_timeout)
	"25006": apierr.DatabaseReadOnly,       // read_only_sql_transaction
	"42P17": apierr.DatabaseSchemaMismatch, // invalid_object_definition
	"42703": apierr.DatabaseSchemaMismatch, // undefined_column
	"42P01": apierr.DatabaseSchemaMismatch, // undefined_table
	"22P02": apierr.InvalidParameter,       // invalid_text_representation
	"22021": apierr.InvalidRequest,         // character_not_in_repertoire (a NUL or invalid UTF-8 in a name)
	"22P05": apierr.InvalidRequest,         // untranslatable_character
	"53300": apierr.SlowDown,               // too_many_connections
	"57P01": apierr.DatabaseUnavailable,    // admin_shutdown
	"57P02": apierr.DatabaseUnavailable,    // crash_shutdown
	"57P03": apierr.DatabaseUnavailable,    // cannot_connect_now
	"40001": apierr.ResourceLocked,         // serialization_failure
	"40P01": apierr.ResourceLocked,         // deadlock_detected
	"23514": apierr.InvalidRequest,         // check_violation
	"22001": apierr.InvalidRequest,         // string_data_right_truncation
	"P0001": apierr.InvalidRequest,         // raise_exception (e.g. bucket name length trigger)
	"08006": apierr.DatabaseUnavailable,    // connection_failure
	"08001": apierr.DatabaseUnavailable,    // sqlclient_unable_to_establish_sqlconnection
	"08004": apierr.DatabaseUnavailable,    // sqlserver_rejected_establishment_of_sqlconnection
}

// mapErr turns an error from pgx into a catalogue error, keeping the cause.
// Catalogue errors pass through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.Wrap(apierr.NoSuchKey, err, "")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code, ok := sqlstates[pe.Code]
		if !ok {
			return apierr.Wrap(apierr.Internal, err, "")
		}
		msg := ""
		switch code {
		case apierr.AccessDenied:
			msg = pe.Message // "new row violates row-level security policy for table ..."
		case apierr.ResourceReferenced:
			if strings.Contains(pe.Message, "insert or update") {
				code = apierr.RelatedResourceNotFound
			}
		case apierr.InvalidRequest, apierr.InvalidParameter:
			msg = pe.Message
		}
		return apierr.Wrap(code, err, msg)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apierr.Wrap(apierr.DatabaseTimeout, err, "")
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	// A connection Postgres closed mid-answer (a crash, a restart) reads
	// as an unexpected EOF.
	lost := errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
	if lost || errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return apierr.Wrap(apierr.DatabaseUnavailable, err, "")
	}
	return apierr.Wrap(apierr.Internal, err, "")
}
