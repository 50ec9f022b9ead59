package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"golang.org/x/sync/semaphore"
)

// notifyChannel is the PostgreSQL LISTEN/NOTIFY channel; the payload is the server name.
const notifyChannel = "vbo_gateway_watch"

type pgEngine struct {
	pool *pgxpool.Pool
	// reports bounds the pool's connections reports take at once (half of them), so the
	// watcher, the feed, rules and webhooks always find one.
	reports *semaphore.Weighted
	dsn     string
	logger  *slog.Logger
}

func openPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*pgEngine, error) {
	if dsn == "" {
		return nil, errors.New("store: postgres needs a DSN")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN (and its password): say only what failed.
		return nil, errors.New("store: postgres DSN does not parse")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	err = migrate(ctx, goose.DialectPostgres, db, goose.WithSessionLocker(locker))
	_ = db.Close()
	if err != nil {
		pool.Close()
		return nil, err
	}
	reports := semaphore.NewWeighted(max(int64(cfg.MaxConns)/2, 1))
	return &pgEngine{pool: pool, reports: reports, dsn: dsn, logger: logger}, nil
}

// migrate applies the embedded migrations.
func migrate(ctx context.Context, dialect goose.Dialect, db *sql.DB, opt goose.ProviderOption) error {
	p, err := newProvider(dialect, db, opt)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// newProvider is goose's provider of the embedded SQL migrations and the Go ones (goMigrations)
// for dialect on db.
func newProvider(dialect goose.Dialect, db *sql.DB, opt goose.ProviderOption) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(goMigrations(dialect)...)}
	if opt != nil {
		opts = append(opts, opt)
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

func (e *pgEngine) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := e.pool.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// queryCached is Query: pgx prepares each query text once per connection and keeps it (its
// statement cache, by text).
func (e *pgEngine) queryCached(ctx context.Context, q string, args ...any) (Rows, error) {
	return e.Query(ctx, q, args...)
}

func (e *pgEngine) queryReport(ctx context.Context, q string, args ...any) (Rows, error) {
	if err := e.reports.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	rows, err := e.pool.Query(ctx, rebind(q), args...)
	if err != nil {
		e.reports.Release(1)
		return nil, err
	}
	return &pgReportRows{pgRows: pgRows{rows}, release: sync.OnceFunc(func() { e.reports.Release(1) })}, nil
}

// pgReportRows gives the report slot back when the rows close.
type pgReportRows struct {
	pgRows
	release func()
}

func (r *pgReportRows) Close() { r.pgRows.Close(); r.release() }

func (e *pgEngine) QueryRow(ctx context.Context, q string, args ...any) Row {
	return e.pool.QueryRow(ctx, rebind(q), args...)
}

func (e *pgEngine) inTx(ctx context.Context, fn func(Tx) error) error {
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(pgTx{tx}); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (e *pgEngine) now(ctx context.Context) (time.Time, error) {
	var n int64
	err := e.pool.QueryRow(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`).Scan(&n)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: clock: %w", err)
	}
	return time.UnixMicro(n).UTC(), nil
}

func (e *pgEngine) notify(ctx context.Context, tx Tx, server string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify(?, ?)`, notifyChannel, server)
	return err
}

// listen holds one dedicated connection LISTENing; it reconnects with backoff and then calls
// fn("") so the reader catches up on anything it missed.
func (e *pgEngine) listen(ctx context.Context, fn func(string)) {
	backoff := 100 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		conn, err := pgx.Connect(ctx, e.dsn)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+notifyChannel)
		}
		if err == nil {
			backoff = 100 * time.Millisecond
			if !first {
				fn("")
			}
			for {
				n, werr := conn.WaitForNotification(ctx)
				if werr != nil {
					err = werr
					break
				}
				fn(n.Payload)
			}
		}
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		e.logger.Warn("store: LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (e *pgEngine) native() any { return e.pool }

func (e *pgEngine) close() error { e.pool.Close(); return nil }

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := t.tx.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

func (t pgTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return t.tx.QueryRow(ctx, rebind(q), args...)
}

func (t pgTx) Native() any { return t.tx }

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() { r.Rows.Close() }

// rebind turns '?' placeholders into PostgreSQL's $1, $2... (the store's SQL has no '?'
// inside literals).
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
