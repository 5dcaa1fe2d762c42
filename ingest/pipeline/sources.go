package pipeline

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/ingest/collector"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
)

// The source packages' configurations of a pipeline. They are thin on
// purpose: each package documents and defaults its own fields.

func (p Pipeline) pollConfig(onWindow func(poll.WindowReport)) poll.Config {
	ident, _ := parseTable(p.Table)
	src := p.Source.Poll
	cfg := poll.Config{
		Table:    ident,
		Every:    src.Every,
		Start:    src.Start,
		Delay:    src.Delay,
		Horizon:  src.Horizon,
		Retry:    poll.Retry{Attempts: src.Retry.Attempts, Backoff: src.Retry.Backoff, After: src.Retry.After},
		OnWindow: onWindow,
	}
	if h := src.HTTP; h != nil {
		cfg.Fetch.HTTP = &poll.HTTP{
			URL:        h.URL,
			Headers:    h.Headers,
			TimeFormat: poll.TimeFormat(h.TimeFormat),
			Items:      h.Items,
			Next:       h.Next,
			MaxPages:   h.MaxPages,
		}
		if h.Timeout > 0 {
			cfg.Fetch.HTTP.Client = &http.Client{Timeout: h.Timeout}
		}
	}
	if s := src.SQL; s != nil {
		cfg.Fetch.SQL = &poll.SQL{Driver: s.Driver, DSN: s.DSN, Query: s.Query, TimeFormat: poll.TimeFormat(s.TimeFormat)}
	}
	return cfg
}

func (p Pipeline) collectorConfig() collector.Config {
	ident, _ := parseTable(p.Table)
	h := p.Source.HTTP
	return collector.Config{
		Addr:          h.Addr,
		Table:         ident,
		Schema:        p.arrowSchema(),
		Required:      p.Rules.Required,
		SpoolDir:      h.SpoolDir,
		FlushRows:     p.Flush.Rows,
		FlushInterval: p.Flush.Interval,
		MaxBodyBytes:  h.MaxBodyBytes,
	}
}

func (p Pipeline) kafkaConfig(reg prometheus.Registerer) kafka.Config {
	ident, _ := parseTable(p.Table)
	k := p.Source.Kafka
	return kafka.Config{
		Brokers:       k.Brokers,
		Topics:        k.Topics,
		Group:         k.Group,
		InstanceID:    k.InstanceID,
		Table:         ident,
		Schema:        p.arrowSchema(),
		FlushRows:     p.Flush.Rows,
		FlushInterval: p.Flush.Interval,
		StartAtEnd:    k.StartAtEnd,
		Registerer:    reg,
	}
}

// sourceConfigError is the source package's own verdict on p's
// configuration.
func (p Pipeline) sourceConfigError() error {
	switch {
	case p.Source.HTTP != nil:
		return p.collectorConfig().Validate()
	case p.Source.Kafka != nil:
		return p.kafkaConfig(nil).Validate()
	case p.Source.Poll != nil:
		return p.pollConfig(nil).Validate()
	}
	return nil
}
