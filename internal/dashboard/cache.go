package dashboard

import (
	"sync"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/execlog"
)

// Cache keeps decoded execution records and drift reports by blob key, so
// that a server building the page on every request reads each document
// once. Blob keys are written once and reports are never replaced, so an
// entry stays right for the process's life. The zero value is ready; it is
// safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	records map[string]execlog.Record
	reports map[string]*driftScores
}

// driftScores is what the page keeps of a drift report: the months, the
// share and each column's test, not the histograms and statistics.
type driftScores struct {
	Reference, Current string
	Share, Threshold   float64
	Drifted, Columns   int
	Retrain            bool
	Tests              []drift.ColumnResult // Histogram, Reference and Current stats zeroed
}

func (c *Cache) record(key string) (execlog.Record, bool) {
	if c == nil {
		return execlog.Record{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[key]
	return r, ok
}

func (c *Cache) putRecord(key string, r execlog.Record) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records == nil {
		c.records = map[string]execlog.Record{}
	}
	c.records[key] = r
}

func (c *Cache) report(key string) (*driftScores, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.reports[key]
	return r, ok
}

func (c *Cache) putReport(key string, r *driftScores) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reports == nil {
		c.reports = map[string]*driftScores{}
	}
	c.reports[key] = r
}
