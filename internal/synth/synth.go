package synth

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// Drift is the kind of change a month introduces. It is an int so that a
// Config literal reads naturally (map[int]Drift{3: synth.FeatureShift}).
type Drift int

// Drift kinds.
const (
	// None changes nothing: the month differs from the previous ones only by
	// sampling noise.
	None Drift = iota
	// FeatureShift shifts several feature distributions (watch hours and
	// session length down, rebuffering, failed payments and tickets up, fees
	// up) and keeps P(churn | features): covariate shift.
	FeatureShift
	// LabelShift changes P(churn | features): drivers are re-weighted and the
	// churn rate rises, while feature distributions stay: concept drift.
	LabelShift
)

var driftNames = [...]string{None: "none", FeatureShift: "feature", LabelShift: "label"}

// String returns the name ParseDrift accepts: "none", "feature" or "label".
func (d Drift) String() string {
	if d >= 0 && int(d) < len(driftNames) {
		return driftNames[d]
	}
	return fmt.Sprintf("Drift(%d)", int(d))
}

// ParseDrift parses a drift kind as a CLI or an event spells it: "none",
// "feature" or "label" (also "feature-shift", "label_shift", any case).
func ParseDrift(s string) (Drift, error) {
	k := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	switch k {
	case "none", "":
		return None, nil
	case "feature", "featureshift":
		return FeatureShift, nil
	case "label", "labelshift":
		return LabelShift, nil
	}
	return None, fmt.Errorf("synth: unknown drift kind %q (want none, feature or label)", s)
}

// DefaultUsers is the lab's population size, used when Config.Users is 0.
const DefaultUsers = 7043

// MaxStrength bounds Config.Strength: beyond it a feature shift would drive
// watch hours to zero.
const MaxStrength = 3

// Config says what to generate. The zero value is not usable: Months must
// be at least 1.
type Config struct {
	// Users is the population size, constant over months; 0 means
	// DefaultUsers.
	Users int
	// Months is how many months to emit (month indices 0..Months-1).
	Months int
	// Seed seeds every draw: the same Config gives the same months.
	Seed int64
	// Drift maps a month index (0..Months-1) to the drift that starts at
	// that month and persists afterwards. Absent months are None.
	Drift map[int]Drift
	// Strength scales every drift, in (0, MaxStrength]; 0 means 1. At 1 a
	// FeatureShift lowers watch hours by 20% and a LabelShift raises the
	// expected churn rate by 18 points.
	Strength float64
}

// ErrConfig is wrapped by every error about an invalid Config, so that a
// CLI can report a usage problem rather than a failure.
var ErrConfig = errors.New("invalid synth config")

// normalize returns cfg with defaults filled in, or an error wrapping
// ErrConfig.
func (cfg Config) normalize() (Config, error) {
	if cfg.Users == 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.Users < 1 {
		return cfg, fmt.Errorf("%w: users %d, want >= 1", ErrConfig, cfg.Users)
	}
	if cfg.Months < 1 {
		return cfg, fmt.Errorf("%w: months %d, want >= 1", ErrConfig, cfg.Months)
	}
	if cfg.Strength == 0 {
		cfg.Strength = 1
	}
	if !(cfg.Strength > 0 && cfg.Strength <= MaxStrength) {
		return cfg, fmt.Errorf("%w: strength %g, want in (0, %d]", ErrConfig, cfg.Strength, MaxStrength)
	}
	for m, d := range cfg.Drift {
		if m < 0 || m >= cfg.Months {
			return cfg, fmt.Errorf("%w: drift at month %d, want 0..%d", ErrConfig, m, cfg.Months-1)
		}
		if d < None || d > LabelShift {
			return cfg, fmt.Errorf("%w: drift at month %d: unknown kind %d", ErrConfig, m, int(d))
		}
	}
	return cfg, nil
}

// FirstAsOf is the as_of date of month 0, the lab's first as_of.
var FirstAsOf = time.Date(2024, time.January, 31, 0, 0, 0, 0, time.UTC)

// AsOf returns the as_of date of month i: the last day of the i-th calendar
// month after January 2024 (2024-01-31, 2024-02-29, 2024-03-31, ...).
// Negative i counts back.
func AsOf(i int) time.Time {
	// Day 0 of the next month is the last day of this one.
	return time.Date(2024, time.January+time.Month(i)+1, 0, 0, 0, 0, 0, time.UTC)
}

// MonthDir returns the directory name of month i in the lab's layout:
// month_000, month_001, ...
func MonthDir(i int) string { return fmt.Sprintf("month_%03d", i) }

// Run is a generated sequence of months with the ground truth behind it.
type Run struct {
	// Months are the emitted months, Months[i].AsOf == AsOf(i).
	Months []*snapshot.Month
	// ChurnProb[i][j] is the true probability from which
	// Months[i].Customers[j].Churn was drawn: the ceiling any model can
	// reach, for tests and benchmark reports.
	ChurnProb [][]float64
}

// Simulate generates cfg.Months months and the true churn probabilities.
func Simulate(cfg Config) (*Run, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := newSim(cfg)
	run := &Run{
		Months:    make([]*snapshot.Month, 0, cfg.Months),
		ChurnProb: make([][]float64, 0, cfg.Months),
	}
	for m := range cfg.Months {
		s.applyDrift(cfg.Drift[m])
		held := &heldMonth{cust: make([]snapshot.Customer, len(s.users)), prob: make([]float64, len(s.users))}
		if err := s.step(m, held); err != nil {
			return nil, err
		}
		run.Months = append(run.Months, &snapshot.Month{AsOf: AsOf(m), Customers: held.cust})
		run.ChurnProb = append(run.ChurnProb, held.prob)
	}
	return run, nil
}

// heldMonth is the monthSink that keeps the month in memory.
type heldMonth struct {
	cust []snapshot.Customer
	prob []float64
}

func (h *heldMonth) row(i int, c *snapshot.Customer) error { h.cust[i] = *c; return nil }

func (h *heldMonth) label(i int, _ *snapshot.Customer, churn bool, p float64) error {
	h.cust[i].Churn, h.prob[i] = churn, p
	return nil
}

// Generate generates cfg.Months joined month snapshots (see the package
// documentation for the model and the dates).
func Generate(cfg Config) ([]*snapshot.Month, error) {
	run, err := Simulate(cfg)
	if err != nil {
		return nil, err
	}
	return run.Months, nil
}

// newPCG returns the generator's only random source, a PCG seeded by seed.
func newPCG(seed int64) *rand.PCG {
	return rand.NewPCG(uint64(seed), 0x5eed_c0de_c4a5_0b51)
}
