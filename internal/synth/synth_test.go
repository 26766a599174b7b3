package synth_test

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

func TestAsOf(t *testing.T) {
	tests := []struct {
		month int
		want  string
	}{
		{0, "2024-01-31"},
		{1, "2024-02-29"}, // leap year
		{2, "2024-03-31"},
		{3, "2024-04-30"},
		{11, "2024-12-31"},
		{13, "2025-02-28"},
		{-1, "2023-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := synth.AsOf(tt.month).Format(snapshot.DateLayout); got != tt.want {
				t.Errorf("AsOf(%d) = %s, want %s", tt.month, got, tt.want)
			}
		})
	}
	if got := synth.MonthDir(7); got != "month_007" {
		t.Errorf("MonthDir(7) = %q, want month_007", got)
	}
}

func TestParseDrift(t *testing.T) {
	tests := []struct {
		in      string
		want    synth.Drift
		wantErr bool
	}{
		{"none", synth.None, false},
		{"", synth.None, false},
		{"feature", synth.FeatureShift, false},
		{"Feature-Shift", synth.FeatureShift, false},
		{"label_shift", synth.LabelShift, false},
		{" LABEL ", synth.LabelShift, false},
		{"concept", synth.None, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := synth.ParseDrift(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDrift(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseDrift(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if !tt.wantErr {
				back, err := synth.ParseDrift(got.String())
				if err != nil || back != got {
					t.Errorf("ParseDrift(%v.String()) = %v, %v: does not round-trip", got, back, err)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  synth.Config
	}{
		{"no months", synth.Config{Users: 10}},
		{"negative users", synth.Config{Users: -1, Months: 1}},
		{"drift past the end", synth.Config{Users: 10, Months: 2, Drift: map[int]synth.Drift{2: synth.FeatureShift}}},
		{"drift before month 0", synth.Config{Users: 10, Months: 2, Drift: map[int]synth.Drift{-1: synth.LabelShift}}},
		{"unknown drift", synth.Config{Users: 10, Months: 2, Drift: map[int]synth.Drift{1: 9}}},
		{"negative strength", synth.Config{Users: 10, Months: 2, Strength: -0.5}},
		{"strength too large", synth.Config{Users: 10, Months: 2, Strength: synth.MaxStrength + 1}},
		{"NaN strength", synth.Config{Users: 10, Months: 2, Strength: math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := synth.Generate(tt.cfg)
			if !errors.Is(err, synth.ErrConfig) {
				t.Errorf("Generate(%+v) error = %v, want one wrapping ErrConfig", tt.cfg, err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	months, err := synth.Generate(synth.Config{Months: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(months[0].Customers); n != synth.DefaultUsers {
		t.Errorf("default population = %d, want %d", n, synth.DefaultUsers)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := synth.Config{Users: 2000, Months: 3, Seed: 11, Drift: map[int]synth.Drift{1: synth.FeatureShift, 2: synth.LabelShift}}
	a, b := simulate(t, cfg), simulate(t, cfg)
	for i := range a.Months {
		if !slices.Equal(a.ChurnProb[i], b.ChurnProb[i]) {
			t.Errorf("month %d: churn probabilities differ between two runs of the same config", i)
		}
		if !slices.EqualFunc(a.Months[i].Customers, b.Months[i].Customers, func(x, y snapshot.Customer) bool { return x == y }) {
			t.Errorf("month %d: customers differ between two runs of the same config", i)
		}
	}
	cfg.Seed++
	c := simulate(t, cfg)
	if slices.Equal(a.ChurnProb[0], c.ChurnProb[0]) {
		t.Error("seeds 11 and 12 gave the same month 0")
	}
}

var userIDPattern = regexp.MustCompile(`^[0-9]{4}-[A-Z]{5}$`)

// TestValueRanges checks every generated value against the lab's ranges
// and the internal consistency rules (net service and optional plans,
// signup date and tenure, total paid and fee).
func TestValueRanges(t *testing.T) {
	run := simulate(t, synth.Config{Users: 3000, Months: 4, Seed: 5})
	for i, m := range run.Months {
		t.Run(synth.MonthDir(i), func(t *testing.T) {
			if !m.AsOf.Equal(synth.AsOf(i)) {
				t.Errorf("AsOf = %v, want %v", m.AsOf, synth.AsOf(i))
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("generated month does not validate: %v", err)
			}
			bad := func(c *snapshot.Customer, format string, args ...any) {
				t.Helper()
				t.Errorf("%s: "+format, append([]any{c.UserID}, args...)...)
			}
			for k := range m.Customers {
				c := &m.Customers[k]
				if !userIDPattern.MatchString(c.UserID) {
					bad(c, "user_id does not look like 1234-ABCDE")
				}
				if c.Gender != "Male" && c.Gender != "Female" {
					bad(c, "gender %q", c.Gender)
				}
				if c.MonthsActive < 0 || c.MonthsActive > 72 {
					bad(c, "months_active %d outside 0..72", c.MonthsActive)
				}
				if !slices.Contains([]string{"Month-to-month", "One year", "Two year"}, c.ContractType) {
					bad(c, "contract %q", c.ContractType)
				}
				switch c.NetService {
				case "No":
					if c.PlanStreamTV != snapshot.Missing || c.PlanStreamMovies != snapshot.Missing {
						bad(c, "no internet but streaming plans %v/%v", c.PlanStreamTV, c.PlanStreamMovies)
					}
				case "DSL", "Fiber optic":
					if c.PlanStreamTV == snapshot.Missing || c.PlanStreamMovies == snapshot.Missing {
						bad(c, "internet but missing streaming plans")
					}
				default:
					bad(c, "net_service %q", c.NetService)
				}
				if c.MonthlyFee < 18.25 || c.MonthlyFee > 118.75 {
					bad(c, "monthly_fee %v outside 18.25..118.75", c.MonthlyFee)
				}
				if f := c.MonthlyFee * 20; math.Abs(f-math.Round(f)) > 1e-6 {
					bad(c, "monthly_fee %v not a multiple of 0.05", c.MonthlyFee)
				}
				// total_paid ≈ tenure × fee (past prices varied a little).
				if c.MonthsActive == 0 && c.TotalPaid != 0 {
					bad(c, "tenure 0 but total_paid %v", c.TotalPaid)
				}
				if t0 := c.MonthsActive; t0 > 0 && t0 < 72 {
					ratio := c.TotalPaid / (float64(t0) * c.MonthlyFee)
					if ratio < 0.6 || ratio > 1.4 {
						bad(c, "total_paid %v far from %d × %v", c.TotalPaid, t0, c.MonthlyFee)
					}
				}
				// signup_date is months_active whole months before as_of.
				months := (m.AsOf.Year()-c.SignupDate.Year())*12 + int(m.AsOf.Month()-c.SignupDate.Month())
				if min(months, 72) != c.MonthsActive || c.SignupDate.Day() > 28 {
					bad(c, "signup %s is %d months before %s, months_active %d",
						c.SignupDate.Format(snapshot.DateLayout), months, m.AsOf.Format(snapshot.DateLayout), c.MonthsActive)
				}
				if c.WatchHours30d <= 0 || c.WatchHours30d > 100 {
					bad(c, "watch_hours_30d %v", c.WatchHours30d)
				}
				if c.AvgSessionMins7d < 1 || c.AvgSessionMins7d > 240 {
					bad(c, "avg_session_mins_7d %v", c.AvgSessionMins7d)
				}
				if c.UniqueDevices30d < 1 || c.UniqueDevices30d > 3 {
					bad(c, "unique_devices_30d %d outside 1..3", c.UniqueDevices30d)
				}
				if c.Skips7d < 0 || c.Skips7d > 30 || c.RebufferEvents7d < 0 || c.RebufferEvents7d > 30 {
					bad(c, "skips %d, rebuffers %d", c.Skips7d, c.RebufferEvents7d)
				}
				if c.FailedPayments90d < 0 || c.FailedPayments90d > 3 {
					bad(c, "failed_payments_90d %d outside 0..3", c.FailedPayments90d)
				}
				if c.SupportTickets90d < 0 || c.SupportTickets90d > 4 {
					bad(c, "support_tickets_90d %d outside 0..4", c.SupportTickets90d)
				}
				r := c.TicketAvgResolutionHrs90d
				if r < 1 || r > 24.9 || math.Abs(r*10-math.Round(r*10)) > 1e-6 {
					bad(c, "ticket_avg_resolution_hrs_90d %v not in 1.0..24.9 with one decimal", r)
				}
				if p := run.ChurnProb[i][k]; !(p > 0 && p < 1) {
					bad(c, "churn probability %v", p)
				}
			}
		})
	}
}

// TestRealism compares a generated month with the lab's month_000 on the
// statistics that shape a model: they should be close, not equal.
func TestRealism(t *testing.T) {
	dir := labDir(t)
	lab, err := snapshot.Load(dir+"/month_000", synth.FirstAsOf)
	if err != nil {
		t.Fatalf("load lab month: %v", err)
	}
	gen := simulate(t, synth.Config{Months: 1, Seed: 1}).Months[0]
	share := func(m *snapshot.Month, f func(*snapshot.Customer) bool) float64 {
		n := 0
		for i := range m.Customers {
			if f(&m.Customers[i]) {
				n++
			}
		}
		return float64(n) / float64(len(m.Customers))
	}
	for _, name := range []string{"months_active", "monthly_fee", "watch_hours_30d", "skips_7d",
		"rebuffer_events_7d", "failed_payments_90d", "support_tickets_90d", "ticket_avg_resolution_hrs_90d"} {
		t.Run(name, func(t *testing.T) {
			lm, lsd := meanSD(numCol(t, lab, name))
			gm, gsd := meanSD(numCol(t, gen, name))
			if d := math.Abs(gm-lm) / lsd; d > 0.1 {
				t.Errorf("mean %.3f vs lab %.3f: %.2f lab sd apart, want <= 0.1", gm, lm, d)
			}
			if r := gsd / lsd; r < 0.8 || r > 1.25 {
				t.Errorf("sd %.3f vs lab %.3f: ratio %.2f, want 0.8..1.25", gsd, lsd, r)
			}
		})
	}
	shares := []struct {
		name string
		f    func(*snapshot.Customer) bool
	}{
		{"churn", func(c *snapshot.Customer) bool { return c.Churn }},
		{"fiber", func(c *snapshot.Customer) bool { return c.NetService == "Fiber optic" }},
		{"no internet", func(c *snapshot.Customer) bool { return c.NetService == "No" }},
		{"month-to-month", func(c *snapshot.Customer) bool { return c.ContractType == "Month-to-month" }},
		{"senior", func(c *snapshot.Customer) bool { return c.IsSenior }},
		{"paperless", func(c *snapshot.Customer) bool { return c.PaperlessBilling }},
		{"streaming tv", func(c *snapshot.Customer) bool { return c.PlanStreamTV == snapshot.True }},
		{"first year", func(c *snapshot.Customer) bool { return c.MonthsActive < 12 }},
	}
	for _, s := range shares {
		t.Run(s.name, func(t *testing.T) {
			l, g := share(lab, s.f), share(gen, s.f)
			if math.Abs(l-g) > 0.07 {
				t.Errorf("share %.3f vs lab %.3f, want within 0.07", g, l)
			}
		})
	}
	t.Run("avg_session_mins_7d has spread", func(t *testing.T) {
		if _, sd := meanSD(numCol(t, gen, "avg_session_mins_7d")); sd < 3 {
			t.Errorf("sd %.2f, want a real spread (the lab's is a constant)", sd)
		}
	})
	t.Run("fee follows service and plans", func(t *testing.T) {
		feeOf := func(net string, plans snapshot.OptBool) float64 {
			var x []float64
			for _, c := range gen.Customers {
				if c.NetService == net && (plans == snapshot.Missing || c.PlanStreamTV == plans && c.PlanStreamMovies == plans) {
					x = append(x, c.MonthlyFee)
				}
			}
			m, _ := meanSD(x)
			return m
		}
		no, dsl, fiber := feeOf("No", snapshot.Missing), feeOf("DSL", snapshot.Missing), feeOf("Fiber optic", snapshot.Missing)
		if !(no < dsl && dsl < fiber) {
			t.Errorf("mean fee no %.1f, DSL %.1f, fiber %.1f: want increasing", no, dsl, fiber)
		}
		if none, both := feeOf("DSL", snapshot.False), feeOf("DSL", snapshot.True); both-none < 15 {
			t.Errorf("DSL fee with both plans %.1f vs none %.1f: want at least 15 more", both, none)
		}
	})
}

// TestSignal checks that churn_label follows the generating probability
// closely enough for a model to learn it, at a plausible churn rate.
func TestSignal(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		run := simulate(t, synth.Config{Months: 2, Seed: seed})
		for i, m := range run.Months {
			t.Run(synth.MonthDir(i), func(t *testing.T) {
				r, a := churnRate(m), auc(t, run.ChurnProb[i], labels(m))
				t.Logf("seed %d: churn rate %.3f, true-probability AUC %.3f", seed, r, a)
				if r < 0.22 || r > 0.32 {
					t.Errorf("seed %d: churn rate %.3f, want 0.22..0.32 (lab 0.265)", seed, r)
				}
				if a < 0.78 {
					t.Errorf("seed %d: AUC of the true probability %.3f, want >= 0.78", seed, a)
				}
			})
		}
	}
}

// TestNoDriftIsStationary checks that months without drift differ from
// month 0 only by sampling noise, however far apart.
func TestNoDriftIsStationary(t *testing.T) {
	run := simulate(t, synth.Config{Months: 7, Seed: 21})
	ref := run.Months[0]
	for i, cur := range run.Months[1:] {
		t.Run(synth.MonthDir(i+1), func(t *testing.T) {
			for _, name := range driftColumns {
				if name == "net_service" {
					continue // categorical, covered by drifted below
				}
				r, c := numCol(t, ref, name), numCol(t, cur, name)
				rm, rsd := meanSD(r)
				cm, csd := meanSD(c)
				if d := math.Abs(cm-rm) / rsd; d > 0.05 {
					t.Errorf("%s: mean moved %.3f sd, want <= 0.05", name, d)
				}
				if q := csd / rsd; q < 0.95 || q > 1.05 {
					t.Errorf("%s: sd ratio %.3f, want 0.95..1.05", name, q)
				}
			}
			if d := drifted(t, ref, cur); len(d) > 0 {
				t.Errorf("drifted columns %v, want none", d)
			}
		})
	}
}

// TestFeatureShift checks that a feature shift drifts several features
// (Evidently-style share well above the lab's 0.02 threshold) from its
// month on, and not before.
func TestFeatureShift(t *testing.T) {
	run := simulate(t, synth.Config{Months: 5, Seed: 8, Drift: map[int]synth.Drift{2: synth.FeatureShift}})
	m := run.Months
	if d := drifted(t, m[0], m[1]); len(d) > 0 {
		t.Errorf("month 1 vs 0 (before the shift): drifted %v, want none", d)
	}
	d := drifted(t, m[1], m[2])
	t.Logf("month 2 vs 1: drifted %v; churn rate %.3f -> %.3f", d, churnRate(m[1]), churnRate(m[2]))
	for _, want := range []string{"watch_hours_30d", "avg_session_mins_7d", "rebuffer_events_7d", "monthly_fee", "failed_payments_90d"} {
		if !slices.Contains(d, want) {
			t.Errorf("month 2 vs 1: %s did not drift (drifted: %v)", want, d)
		}
	}
	if share := float64(len(d)) / float64(len(driftColumns)); share < 0.25 {
		t.Errorf("drift share %.2f, want >= 0.25", share)
	}
	wBefore, _ := meanSD(numCol(t, m[1], "watch_hours_30d"))
	wAfter, _ := meanSD(numCol(t, m[2], "watch_hours_30d"))
	if r := wAfter / wBefore; math.Abs(r-0.8) > 0.02 {
		t.Errorf("watch hours ratio %.3f, want 0.8", r)
	}
	// The new regime persists: after retraining on month 2, month 3 and 4
	// look like month 2.
	for _, k := range []int{3, 4} {
		if d := drifted(t, m[2], m[k]); len(d) > 0 {
			t.Errorf("month %d vs 2: drifted %v, want none", k, d)
		}
	}
	// P(churn | features) is unchanged: the true probability still ranks.
	if a := auc(t, run.ChurnProb[2], labels(m[2])); a < 0.78 {
		t.Errorf("AUC of the true probability after the shift %.3f, want >= 0.78", a)
	}
}

// TestLabelShift checks that a label shift leaves the features alone,
// drifts the label, and makes the pre-shift model (here: the true pre-shift
// probability, the best model trained on earlier months can be) rank the
// new labels much worse than the post-shift one.
func TestLabelShift(t *testing.T) {
	const k = 2
	cfg := synth.Config{Months: 4, Seed: 13}
	plain := simulate(t, cfg)
	cfg.Drift = map[int]synth.Drift{k: synth.LabelShift}
	shifted := simulate(t, cfg)

	for i := range cfg.Months {
		p, s := plain.Months[i].Customers, shifted.Months[i].Customers
		if len(p) != len(s) {
			t.Fatalf("month %d: %d vs %d customers", i, len(p), len(s))
		}
		for j := range p {
			a, b := p[j], s[j]
			a.Churn, b.Churn = false, false
			if a != b {
				t.Fatalf("month %d: customer %s features differ with a label shift", i, a.UserID)
			}
		}
	}
	if d := drifted(t, shifted.Months[k-1], shifted.Months[k]); !slices.Equal(d, []string{snapshot.Label}) {
		t.Errorf("month %d vs %d: drifted %v, want only %s", k, k-1, d, snapshot.Label)
	}
	before, after := churnRate(shifted.Months[k-1]), churnRate(shifted.Months[k])
	if after-before < 0.12 {
		t.Errorf("churn rate %.3f -> %.3f, want a rise of about 0.18", before, after)
	}
	for _, i := range []int{k, k + 1} {
		y := labels(shifted.Months[i])
		oldAUC := auc(t, plain.ChurnProb[i], y)
		newAUC := auc(t, shifted.ChurnProb[i], y)
		t.Logf("month %d: churn rate %.3f; AUC of the pre-shift model %.3f, of the post-shift one %.3f", i, churnRate(shifted.Months[i]), oldAUC, newAUC)
		if newAUC-oldAUC < 0.1 {
			t.Errorf("month %d: pre-shift model AUC %.3f, post-shift %.3f: want the old one at least 0.1 worse", i, oldAUC, newAUC)
		}
		if newAUC < 0.78 {
			t.Errorf("month %d: post-shift true AUC %.3f, want >= 0.78", i, newAUC)
		}
	}
}

func TestStrength(t *testing.T) {
	drop := func(strength float64) float64 {
		run := simulate(t, synth.Config{Users: 3000, Months: 2, Seed: 4, Strength: strength, Drift: map[int]synth.Drift{1: synth.FeatureShift}})
		a, _ := meanSD(numCol(t, run.Months[0], "watch_hours_30d"))
		b, _ := meanSD(numCol(t, run.Months[1], "watch_hours_30d"))
		return 1 - b/a
	}
	tests := []struct {
		strength, want float64
	}{
		{0, 0.2}, // default 1
		{0.5, 0.1},
		{2, 0.4},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			if got := drop(tt.strength); math.Abs(got-tt.want) > 0.02 {
				t.Errorf("strength %g: watch hours drop %.3f, want %.2f", tt.strength, got, tt.want)
			}
		})
	}
}

// TestPopulation checks how customers persist across months: most stay
// with the same user_id, age one month and accrue their fee; the rest are
// replaced by new signups with fresh ids; a departed id never returns.
func TestPopulation(t *testing.T) {
	run := simulate(t, synth.Config{Users: 4000, Months: 6, Seed: 17})
	seen := map[string]int{} // user_id -> last month present
	for i, m := range run.Months {
		byID := make(map[string]*snapshot.Customer, len(m.Customers))
		for k := range m.Customers {
			c := &m.Customers[k]
			if _, dup := byID[c.UserID]; dup {
				t.Fatalf("month %d: duplicate user_id %s", i, c.UserID)
			}
			byID[c.UserID] = c
			if last, ok := seen[c.UserID]; ok && last != i-1 {
				t.Errorf("month %d: user %s came back after leaving in month %d", i, c.UserID, last+1)
			}
		}
		if i > 0 {
			prev := run.Months[i-1]
			stayed := 0
			var watchPrev, watchCur []float64
			for _, p := range prev.Customers {
				c, ok := byID[p.UserID]
				if !ok {
					continue
				}
				stayed++
				watchPrev, watchCur = append(watchPrev, p.WatchHours30d), append(watchCur, c.WatchHours30d)
				if want := min(p.MonthsActive+1, 72); c.MonthsActive != want {
					t.Errorf("month %d: %s months_active %d -> %d, want %d", i, c.UserID, p.MonthsActive, c.MonthsActive, want)
				}
				if !c.SignupDate.Equal(p.SignupDate) || c.Gender != p.Gender || c.NetService != p.NetService {
					t.Errorf("month %d: %s static traits changed", i, c.UserID)
				}
				if c.MonthsActive > 1 && math.Abs(c.TotalPaid-p.TotalPaid-c.MonthlyFee) > 0.011 {
					t.Errorf("month %d: %s total_paid %v -> %v, want + fee %v", i, c.UserID, p.TotalPaid, c.TotalPaid, c.MonthlyFee)
				}
			}
			if frac := float64(stayed) / float64(len(prev.Customers)); frac < 0.9 || frac > 0.99 {
				t.Errorf("month %d: %.3f of customers stayed, want 0.90..0.99", i, frac)
			}
			if r := correlation(watchPrev, watchCur); r < 0.9 {
				t.Errorf("month %d: watch hours correlation across months %.3f, want >= 0.9 (re-drawn around a level)", i, r)
			}
			for _, c := range m.Customers {
				if _, old := seen[c.UserID]; !old && (c.MonthsActive != 0 || c.TotalPaid != 0) {
					t.Errorf("month %d: new user %s has months_active %d, total_paid %v; want 0, 0", i, c.UserID, c.MonthsActive, c.TotalPaid)
				}
			}
		}
		for _, c := range m.Customers {
			seen[c.UserID] = i
		}
	}
}

func correlation(x, y []float64) float64 {
	mx, sx := meanSD(x)
	my, sy := meanSD(y)
	var c float64
	for i := range x {
		c += (x[i] - mx) * (y[i] - my)
	}
	return c / float64(len(x)) / (sx * sy)
}

func BenchmarkGenerate(b *testing.B) {
	cfg := synth.Config{Months: 3, Seed: 1, Drift: map[int]synth.Drift{2: synth.FeatureShift}}
	for b.Loop() {
		if _, err := synth.Generate(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
