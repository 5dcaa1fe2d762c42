package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/compaction"
	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

const compactUsage = `usage: lakehouse compact <command> [flags]

commands:
  status  show each zone table's health and why it needs maintenance
  plan    show what run would do now (compact plan [--table <zone>.<table>])
  run     do the needed maintenance now (compact run [--table <zone>.<table>])
  serve   maintain the tables continuously until Ctrl-C
  resume  lift the halt of a table whose metadata was corrupt, once repaired
          (compact resume --table <zone>.<table>)

Every command takes --catalog URL and --policy FILE (defaults without one;
format: deploy/compaction.example.yaml).
`

type compactFlags struct {
	catalog, policy, table, metricsAddr string
}

func runCompact(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"status", "plan", "run", "serve", "resume"}, args[0]) {
		fmt.Fprint(os.Stderr, compactUsage)
		return errUsage
	}
	sub := args[0]
	var f compactFlags
	fs := flag.NewFlagSet("compact "+sub, flag.ContinueOnError)
	fs.StringVar(&f.catalog, "catalog", envOr("LAKEHOUSE_CATALOG_URL", "http://127.0.0.1:8181"), "REST catalog URL (env LAKEHOUSE_CATALOG_URL)")
	fs.StringVar(&f.policy, "policy", "", "compaction policy file (YAML); default policies without one")
	switch sub {
	case "plan", "run":
		fs.StringVar(&f.table, "table", "", "only this table (<zone>.<table>); default every table of the zones")
	case "resume":
		fs.StringVar(&f.table, "table", "", "the halted table (<zone>.<table>); required")
	}
	if sub == "serve" {
		fs.StringVar(&f.metricsAddr, "metrics-addr", "127.0.0.1:9465", "serve the compaction gauges at http://ADDR/metrics (\"\" turns it off)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var only table.Identifier
	if f.table != "" {
		id, err := compaction.ParseName(f.table)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lakehouse compact: --table:", err)
			return errUsage
		}
		only = id
	}
	if sub == "resume" && only == nil {
		fmt.Fprintln(os.Stderr, "lakehouse compact resume: --table <zone>.<table> is required")
		return errUsage
	}
	set, err := policy.Load(f.policy)
	if err != nil {
		return err
	}
	var reg prometheus.Registerer
	if sub == "serve" {
		r, err := serveMetrics(ctx, logger, f.metricsAddr)
		if err != nil {
			return err
		}
		reg = r
	}
	svc, err := openCompaction(ctx, logger, reg, f.catalog, set)
	if err != nil {
		return err
	}
	switch sub {
	case "resume":
		return resume(ctx, svc, only, stdout)
	case "status":
		sts, err := svc.StatusAll(ctx)
		if werr := compaction.WriteStatus(stdout, sts); werr != nil {
			return werr
		}
		return err
	case "plan":
		return compactEach(ctx, svc, only, func(id table.Identifier) error {
			pl, err := svc.Plan(ctx, id)
			compaction.WritePlan(stdout, pl)
			return err
		})
	case "run":
		return compactEach(ctx, svc, only, func(id table.Identifier) error {
			rep, err := svc.Run(ctx, id)
			compaction.WriteReport(stdout, rep)
			return err
		})
	}
	logger.Info("compaction serving", "catalog", f.catalog, "zones", set.Scheduler.Zones)
	return svc.Serve(ctx)
}

// resume lifts the halt of ident and says what was lifted.
func resume(ctx context.Context, svc *compaction.Service, ident table.Identifier, stdout io.Writer) error {
	h, err := svc.Resume(ctx, ident)
	if errors.Is(err, compaction.ErrNotHalted) {
		return fmt.Errorf("%s: %w, nothing to lift (compact status shows the halted tables)", compaction.Name(ident), compaction.ErrNotHalted)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: halt lifted; maintenance resumes on every worker\n  halted since %s by %s\n  reason: %s\n",
		h.Table, h.Since.UTC().Format(time.RFC3339), h.Holder, h.Reason)
	return err
}

// openCompaction connects a compaction service to the catalog at url.
func openCompaction(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer, url string, set *policy.Set) (*compaction.Service, error) {
	cat, err := rest.NewCatalog(ctx, "lakehouse", url)
	if err != nil {
		return nil, fmt.Errorf("connecting to catalog %s: %w", url, err)
	}
	return compaction.New(logger, reg, cat, compaction.Config{
		Policies: set,
		// Leases and halts live in the catalog, so that every worker on it
		// (serve, up, a one-off run) shares them, across restarts.
		Leaser: compaction.NewCatalogLeaser(url, nil),
		Halts:  compaction.NewCatalogHalts(url, nil),
	})
}

// compactEach calls do for only, or for every table of the zones; it
// goes on past a table's error and returns them all.
func compactEach(ctx context.Context, svc *compaction.Service, only table.Identifier, do func(table.Identifier) error) error {
	idents := []table.Identifier{only}
	if only == nil {
		var err error
		if idents, err = svc.Tables(ctx); err != nil {
			return err
		}
	}
	var failed int
	for _, id := range idents {
		if err := do(id); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(os.Stderr, "%s: %v\n", compaction.Name(id), err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tables failed", failed, len(idents))
	}
	return nil
}

// compactionFlags are `up`'s flags for the compaction service it runs.
type compactionFlags struct {
	on     bool
	policy string
}

func (c *compactionFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "compaction", true, "maintain the zone tables in the background (compaction, snapshot expiry, orphan removal)")
	fs.StringVar(&c.policy, "compaction-policy", "", "compaction policy file (YAML, see deploy/compaction.example.yaml); default policies without one")
}

// load validates the policy file before anything starts; nil means
// compaction is off.
func (c *compactionFlags) load() (*policy.Set, error) {
	if !c.on {
		return nil, nil
	}
	return policy.Load(c.policy)
}

// startCompaction runs the compaction service in a goroutine that stop
// ends and waits for; a nil set starts nothing.
func startCompaction(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer, url string, set *policy.Set) (stop func(), err error) {
	if set == nil {
		return func() {}, nil
	}
	svc, err := openCompaction(ctx, logger, reg, url, set)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Serve(ctx); err != nil {
			logger.Error("running compaction", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
