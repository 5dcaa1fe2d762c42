// Package storage runs the embedded S3-compatible object store: versitygw's
// gateway over a local folder (posix backend with sidecar metadata).
//
// The posix backend changes the process's working directory to the served
// root, so every path the process uses must be absolute before Start; and
// versitygw supports one gateway per process.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// Config configures the embedded object store.
type Config struct {
	// Dir holds the objects (Dir/objects) and their metadata (Dir/meta). Required; made absolute.
	Dir string
	// Addr is the S3 listen address. Default 127.0.0.1:9000.
	Addr string
	// AccessKey and SecretKey are the root credentials. Default "lakehouse" / "lakehouse-secret".
	AccessKey, SecretKey string
	// Region reported to clients. Default us-east-1.
	Region string
	// Buckets are created at start when missing.
	Buckets []string
}

// WithDefaults fills in the documented defaults.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:9000"
	}
	if c.AccessKey == "" {
		c.AccessKey = "lakehouse"
	}
	if c.SecretKey == "" {
		c.SecretKey = "lakehouse-secret"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	return c
}

// Endpoint is the S3 endpoint URL clients use.
func (c Config) Endpoint() string { return "http://" + c.Addr }

// Server is a running embedded object store.
type Server struct {
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

// Start starts the gateway and returns once it accepts connections and the
// configured buckets exist. Stop it with Close.
func Start(ctx context.Context, logger *slog.Logger, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("storage config: dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving storage dir: %w", err)
	}
	cfg.Dir = dir
	root, sidecar := filepath.Join(dir, "objects"), filepath.Join(dir, "meta")
	for _, d := range []string{root, sidecar} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating storage dir: %w", err)
		}
	}
	// Fail fast with a clear message instead of a gateway log line.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded S3 cannot listen on %s (is another lakehouse running?): %w", cfg.Addr, err)
	}
	if err := ln.Close(); err != nil {
		return nil, fmt.Errorf("probing S3 address: %w", err)
	}
	sc, err := meta.NewSideCar(sidecar)
	if err != nil {
		return nil, fmt.Errorf("opening storage metadata: %w", err)
	}
	be, err := posix.New(root, sc, posix.PosixOpts{SideCarDir: sidecar})
	if err != nil {
		return nil, fmt.Errorf("opening storage backend: %w", err)
	}
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- embedgw.RunVersityGW(gctx, be, &embedgw.Config{
			RootUserAccess:    cfg.AccessKey,
			RootUserSecret:    cfg.SecretKey,
			Region:            cfg.Region,
			Ports:             []string{cfg.Addr},
			MaxConnections:    512,
			MaxRequests:       256,
			MultipartMaxParts: 10000,
			Quiet:             true,
			// With keep-alive on, pyarrow's S3 client intermittently gets
			// "400: error parsing the HTTP request" on CompleteMultipartUpload
			// (seen 3 times in 5 pyiceberg appends, never in 8 without it).
			KeepAlive: false,
		})
	}()
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.ensureBuckets(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	logger.Info("embedded S3 ready", "endpoint", cfg.Endpoint(), "dir", root)
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.cfg.Addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("embedded S3 stopped while starting: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded S3 not listening on %s after 30s: %w", s.cfg.Addr, err)
		}
	}
}

// Client returns an S3 client for the embedded store (path-style).
func (s *Server) Client() *s3.Client {
	return NewClient(s.cfg)
}

// NewClient returns a path-style S3 client for the store cfg describes.
func NewClient(cfg Config) *s3.Client {
	cfg = cfg.WithDefaults()
	return s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
}

func (s *Server) ensureBuckets(ctx context.Context) error {
	cl := s.Client()
	for _, b := range s.cfg.Buckets {
		_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	return nil
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Close stops the gateway and waits for it.
func (s *Server) Close() error {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("stopping embedded S3: %w", err)
		}
		return nil
	case <-time.After(15 * time.Second):
		return errors.New("stopping embedded S3: timed out")
	}
}

// ClientProperties are the Iceberg FileIO properties that reach this store:
// what the catalog hands to pyiceberg, iceberg-go, Spark and others.
func (c Config) ClientProperties() map[string]string {
	c = c.WithDefaults()
	return map[string]string{
		"s3.endpoint":          c.Endpoint(),
		"s3.region":            c.Region,
		"client.region":        c.Region,
		"s3.access-key-id":     c.AccessKey,
		"s3.secret-access-key": c.SecretKey,
		"s3.path-style-access": "true",
	}
}

// LocalPath maps an s3:// location in this store to the file that holds the
// object (the posix backend keeps bucket/key as a path under its root). It
// reports false for locations elsewhere.
func (s *Server) LocalPath(location string) (string, bool) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok || rest == "" {
		return "", false
	}
	root := filepath.Join(s.cfg.Dir, "objects")
	p := filepath.Join(root, filepath.FromSlash(rest))
	if !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", false
	}
	return p, true
}
