// Package snapshot reads, validates, joins, splits and stores StreamFlow month
// snapshots: the lab's six per-user CSV files (users, subscriptions,
// usage_agg_30d, payments_agg_90d, support_agg_90d, labels) stamped with an
// as_of date given by the caller.
//
// A Month is the joined, validated view: one Customer per user_id, in the
// order of users.csv. Optional booleans (plan_stream_tv, plan_stream_movies
// are empty for customers without internet service) are OptBool, so that a
// missing value is never mistaken for false.
//
// Load (or LoadFS) reads the lab's layout as-is and reports every data
// problem at once as a *ValidationErrors naming file, line and column.
// Split and IsValidation give the deterministic train/validation split by
// user_id hash. WriteParquet/ReadParquet store a month in columnar form for
// S3 datasets; WriteCSVDir writes the lab's layout back byte for byte.
// Fingerprint identifies a month's data for model artifacts, and
// RawFeatures gives a customer's features for the online feature store.
package snapshot

import (
	"math"
	"time"
)

// DateLayout is the layout of as_of and signup_date values (YYYY-MM-DD).
const DateLayout = "2006-01-02"

// OptBool is a boolean that may be missing. The zero value is missing.
type OptBool int8

// OptBool values.
const (
	Missing OptBool = iota
	False
	True
)

// Of returns the OptBool holding b.
func Of(b bool) OptBool {
	if b {
		return True
	}
	return False
}

// Float returns 1 or 0, or NaN when missing: the encoding models and drift use.
func (o OptBool) Float() float64 {
	switch o {
	case True:
		return 1
	case False:
		return 0
	}
	return math.NaN()
}

// String returns "True", "False" or "" (missing), as the lab's CSVs spell them.
func (o OptBool) String() string {
	switch o {
	case True:
		return "True"
	case False:
		return "False"
	}
	return ""
}

// Customer is one user's joined row across the six files of a month.
type Customer struct {
	UserID string

	// users.csv
	SignupDate    time.Time
	Gender        string
	IsSenior      bool
	HasFamily     bool
	HasDependents bool

	// subscriptions.csv
	MonthsActive     int
	PlanStreamTV     OptBool // missing = no internet service
	PlanStreamMovies OptBool // missing = no internet service
	ContractType     string
	PaperlessBilling bool
	MonthlyFee       float64
	TotalPaid        float64
	NetService       string // "DSL", "Fiber optic" or "No"

	// usage_agg_30d.csv
	WatchHours30d    float64
	AvgSessionMins7d float64
	UniqueDevices30d int
	Skips7d          int
	RebufferEvents7d int

	// payments_agg_90d.csv
	FailedPayments90d int

	// support_agg_90d.csv
	SupportTickets90d         int
	TicketAvgResolutionHrs90d float64

	// labels.csv
	Churn bool
}

// Month is a validated, joined month snapshot.
type Month struct {
	AsOf      time.Time
	Customers []Customer
}

// Kind is how a column is treated statistically, following Evidently's
// typing: numbers are numerical, booleans and strings categorical.
type Kind int

// Column kinds.
const (
	Numerical Kind = iota
	Categorical
)

func (k Kind) String() string {
	if k == Categorical {
		return "cat"
	}
	return "num"
}

// Label is the name of the target column.
const Label = "churn_label"

// FeatureNames are the lab's 14 model features, in model order.
var FeatureNames = []string{
	"months_active", "monthly_fee", "paperless_billing", "plan_stream_tv",
	"plan_stream_movies", "net_service", "watch_hours_30d", "avg_session_mins_7d",
	"unique_devices_30d", "skips_7d", "rebuffer_events_7d", "failed_payments_90d",
	"support_tickets_90d", "ticket_avg_resolution_hrs_90d",
}

// Column is one column of a month in columnar form. Numerical columns fill
// Num (NaN = missing); categorical columns fill Cat ("" = missing) and, for
// booleans, Num as 0/1/NaN too so models can use them directly.
type Column struct {
	Name string
	Kind Kind
	Num  []float64
	Cat  []string
}

// columnDef tells how to read one model column out of a Customer.
type columnDef struct {
	kind Kind
	num  func(*Customer) float64
	cat  func(*Customer) string
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func b2s(b bool) string { return Of(b).String() }

var columnDefs = map[string]columnDef{
	"months_active":                 {Numerical, func(c *Customer) float64 { return float64(c.MonthsActive) }, nil},
	"monthly_fee":                   {Numerical, func(c *Customer) float64 { return c.MonthlyFee }, nil},
	"paperless_billing":             {Categorical, func(c *Customer) float64 { return b2f(c.PaperlessBilling) }, func(c *Customer) string { return b2s(c.PaperlessBilling) }},
	"plan_stream_tv":                {Categorical, func(c *Customer) float64 { return c.PlanStreamTV.Float() }, func(c *Customer) string { return c.PlanStreamTV.String() }},
	"plan_stream_movies":            {Categorical, func(c *Customer) float64 { return c.PlanStreamMovies.Float() }, func(c *Customer) string { return c.PlanStreamMovies.String() }},
	"net_service":                   {Categorical, nil, func(c *Customer) string { return c.NetService }},
	"watch_hours_30d":               {Numerical, func(c *Customer) float64 { return c.WatchHours30d }, nil},
	"avg_session_mins_7d":           {Numerical, func(c *Customer) float64 { return c.AvgSessionMins7d }, nil},
	"unique_devices_30d":            {Numerical, func(c *Customer) float64 { return float64(c.UniqueDevices30d) }, nil},
	"skips_7d":                      {Numerical, func(c *Customer) float64 { return float64(c.Skips7d) }, nil},
	"rebuffer_events_7d":            {Numerical, func(c *Customer) float64 { return float64(c.RebufferEvents7d) }, nil},
	"failed_payments_90d":           {Numerical, func(c *Customer) float64 { return float64(c.FailedPayments90d) }, nil},
	"support_tickets_90d":           {Numerical, func(c *Customer) float64 { return float64(c.SupportTickets90d) }, nil},
	"ticket_avg_resolution_hrs_90d": {Numerical, func(c *Customer) float64 { return c.TicketAvgResolutionHrs90d }, nil},
	Label:                           {Categorical, func(c *Customer) float64 { return b2f(c.Churn) }, func(c *Customer) string { return b2s(c.Churn) }},
}

// KindOf reports the kind of a model column (one of FeatureNames or Label).
func KindOf(name string) (Kind, bool) {
	d, ok := columnDefs[name]
	return d.kind, ok
}

// ColumnOf returns the named model column (one of FeatureNames or Label) for
// the given customers. It reports false for an unknown name.
func ColumnOf(customers []Customer, name string) (Column, bool) {
	d, ok := columnDefs[name]
	if !ok {
		return Column{}, false
	}
	col := Column{Name: name, Kind: d.kind}
	if d.num != nil {
		col.Num = make([]float64, len(customers))
		for i := range customers {
			col.Num[i] = d.num(&customers[i])
		}
	}
	if d.cat != nil {
		col.Cat = make([]string, len(customers))
		for i := range customers {
			col.Cat[i] = d.cat(&customers[i])
		}
	}
	return col, true
}

// Column returns the named model column of the month.
func (m *Month) Column(name string) (Column, bool) { return ColumnOf(m.Customers, name) }

// DriftColumns returns the columns drift compares: the 14 features and the label.
func (m *Month) DriftColumns() []Column {
	cols := make([]Column, 0, len(FeatureNames)+1)
	for _, n := range append(append([]string(nil), FeatureNames...), Label) {
		c, _ := m.Column(n)
		cols = append(cols, c)
	}
	return cols
}
