package snapshot

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// The lab's six file names, in the order they are read and written.
const (
	UsersFile         = "users.csv"
	SubscriptionsFile = "subscriptions.csv"
	UsageFile         = "usage_agg_30d.csv"
	PaymentsFile      = "payments_agg_90d.csv"
	SupportFile       = "support_agg_90d.csv"
	LabelsFile        = "labels.csv"
)

// UserIDColumn is the join key present in every file.
const UserIDColumn = "user_id"

// valueKind is the CSV value type of a column.
type valueKind int8

const (
	kindString  valueKind = iota // non-empty string
	kindDate                     // YYYY-MM-DD
	kindBool                     // True / False
	kindOptBool                  // True / False / empty
	kindInt                      // base-10 integer, >= 0
	kindFloat                    // finite float, >= 0
)

// colSpec is one non-key column of a file: its name, type, and where it
// lives in a Customer. Exactly one accessor matching kind is set. The same
// table drives parsing, validation, CSV writing and fingerprinting, so a
// column is described in exactly one place.
type colSpec struct {
	name string
	kind valueKind
	str  func(*Customer) *string
	date func(*Customer) *time.Time
	b    func(*Customer) *bool
	ob   func(*Customer) *OptBool
	i    func(*Customer) *int
	f    func(*Customer) *float64
}

// fileSpec is one of the lab's files: its name and its non-key columns in
// the lab's header order (user_id comes first).
type fileSpec struct {
	name string
	cols []colSpec
}

// layout is the lab's month layout. users.csv comes first: it defines the
// set and order of customers.
var layout = []fileSpec{
	{UsersFile, []colSpec{
		{name: "signup_date", kind: kindDate, date: func(c *Customer) *time.Time { return &c.SignupDate }},
		{name: "user_gender", kind: kindString, str: func(c *Customer) *string { return &c.Gender }},
		{name: "user_is_senior", kind: kindBool, b: func(c *Customer) *bool { return &c.IsSenior }},
		{name: "has_family", kind: kindBool, b: func(c *Customer) *bool { return &c.HasFamily }},
		{name: "has_dependents", kind: kindBool, b: func(c *Customer) *bool { return &c.HasDependents }},
	}},
	{SubscriptionsFile, []colSpec{
		{name: "months_active", kind: kindInt, i: func(c *Customer) *int { return &c.MonthsActive }},
		{name: "plan_stream_tv", kind: kindOptBool, ob: func(c *Customer) *OptBool { return &c.PlanStreamTV }},
		{name: "plan_stream_movies", kind: kindOptBool, ob: func(c *Customer) *OptBool { return &c.PlanStreamMovies }},
		{name: "contract_type", kind: kindString, str: func(c *Customer) *string { return &c.ContractType }},
		{name: "paperless_billing", kind: kindBool, b: func(c *Customer) *bool { return &c.PaperlessBilling }},
		{name: "monthly_fee", kind: kindFloat, f: func(c *Customer) *float64 { return &c.MonthlyFee }},
		{name: "total_paid", kind: kindFloat, f: func(c *Customer) *float64 { return &c.TotalPaid }},
		{name: "net_service", kind: kindString, str: func(c *Customer) *string { return &c.NetService }},
	}},
	{UsageFile, []colSpec{
		{name: "watch_hours_30d", kind: kindFloat, f: func(c *Customer) *float64 { return &c.WatchHours30d }},
		{name: "avg_session_mins_7d", kind: kindFloat, f: func(c *Customer) *float64 { return &c.AvgSessionMins7d }},
		{name: "unique_devices_30d", kind: kindInt, i: func(c *Customer) *int { return &c.UniqueDevices30d }},
		{name: "skips_7d", kind: kindInt, i: func(c *Customer) *int { return &c.Skips7d }},
		{name: "rebuffer_events_7d", kind: kindInt, i: func(c *Customer) *int { return &c.RebufferEvents7d }},
	}},
	{PaymentsFile, []colSpec{
		{name: "failed_payments_90d", kind: kindInt, i: func(c *Customer) *int { return &c.FailedPayments90d }},
	}},
	{SupportFile, []colSpec{
		{name: "support_tickets_90d", kind: kindInt, i: func(c *Customer) *int { return &c.SupportTickets90d }},
		{name: "ticket_avg_resolution_hrs_90d", kind: kindFloat, f: func(c *Customer) *float64 { return &c.TicketAvgResolutionHrs90d }},
	}},
	{LabelsFile, []colSpec{
		{name: Label, kind: kindBool, b: func(c *Customer) *bool { return &c.Churn }},
	}},
}

// Files returns the lab's six file names in read order, users.csv first.
func Files() []string {
	names := make([]string, len(layout))
	for i, f := range layout {
		names[i] = f.name
	}
	return names
}

// Columns returns the header of the named file in the lab's order
// (user_id first), and false for an unknown file name. Writers that must
// produce the lab's layout (a generator, an exporter) use it.
func Columns(file string) ([]string, bool) {
	for _, f := range layout {
		if f.name == file {
			cols := make([]string, 0, len(f.cols)+1)
			cols = append(cols, UserIDColumn)
			for _, c := range f.cols {
				cols = append(cols, c.name)
			}
			return cols, true
		}
	}
	return nil, false
}

// errNegative and errNotFinite are the causes of range problems.
var (
	errNegative  = errors.New("negative value")
	errNotFinite = errors.New("non-finite value")
	errEmpty     = errors.New("empty value")
)

// parse sets the column of c from the CSV text s. It returns a message and
// cause describing why s is unacceptable, or "" and nil.
func (cs *colSpec) parse(c *Customer, s string) (string, error) {
	switch cs.kind {
	case kindString:
		if s == "" {
			return "empty value", errEmpty
		}
		*cs.str(c) = intern(s)
	case kindDate:
		t, err := parseDate(s)
		if err != nil {
			return "not a date, want YYYY-MM-DD", err
		}
		*cs.date(c) = t
	case kindBool:
		switch s {
		case "True":
			*cs.b(c) = true
		case "False":
			*cs.b(c) = false
		case "":
			return "empty value, want True or False", errEmpty
		default:
			return "not a boolean, want True or False", strconv.ErrSyntax
		}
	case kindOptBool:
		switch s {
		case "True":
			*cs.ob(c) = True
		case "False":
			*cs.ob(c) = False
		case "":
			*cs.ob(c) = Missing
		default:
			return "not a boolean, want True, False or empty", strconv.ErrSyntax
		}
	case kindInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			if s == "" {
				return "empty value, want an integer", errEmpty
			}
			return "not an integer", err
		}
		*cs.i(c) = v
	case kindFloat:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			if s == "" {
				return "empty value, want a number", errEmpty
			}
			return "not a number", err
		}
		*cs.f(c) = v
	}
	return cs.check(c)
}

// check reports an impossible value already stored in c: negative counts,
// fees or durations, non-finite numbers, empty strings, out-of-range
// OptBools. Dates are checked against as_of by the caller.
func (cs *colSpec) check(c *Customer) (string, error) {
	switch cs.kind {
	case kindString:
		if *cs.str(c) == "" {
			return "empty value", errEmpty
		}
	case kindOptBool:
		if v := *cs.ob(c); v != Missing && v != True && v != False {
			return "invalid optional boolean", strconv.ErrRange
		}
	case kindInt:
		if *cs.i(c) < 0 {
			return "must not be negative", errNegative
		}
	case kindFloat:
		v := *cs.f(c)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "not a finite number", errNotFinite
		}
		if v < 0 {
			return "must not be negative", errNegative
		}
	}
	return "", nil
}

// appendValue appends the lab's CSV text of the column of c to dst.
func (cs *colSpec) appendValue(dst []byte, c *Customer) []byte {
	switch cs.kind {
	case kindString:
		return append(dst, *cs.str(c)...)
	case kindDate:
		return appendDate(dst, *cs.date(c))
	case kindBool:
		return append(dst, Of(*cs.b(c)).String()...)
	case kindOptBool:
		return append(dst, cs.ob(c).String()...)
	case kindInt:
		return strconv.AppendInt(dst, int64(*cs.i(c)), 10)
	case kindFloat:
		return AppendFloat(dst, *cs.f(c))
	}
	return dst
}

// parseDate is time.Parse(DateLayout, s), with a fast path for what it
// accepts most: ten characters YYYY-MM-DD naming a real day. Anything else
// goes to time.Parse, for its error.
func parseDate(s string) (time.Time, error) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok1 := digits(s[0:4])
		m, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(time.Month(m), y) {
			return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Parse(DateLayout, s)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// daysIn is the number of days of month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// appendDate is t.AppendFormat(dst, DateLayout), spelled by hand for the
// years 1000-9999 (the rest go to AppendFormat).
func appendDate(dst []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y < 1000 || y > 9999 {
		return t.AppendFormat(dst, DateLayout)
	}
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// AppendFloat appends f formatted as Python's repr (and so pandas' to_csv,
// which wrote the lab's files) formats it: the shortest decimal that
// round-trips exactly, with ".0" on whole numbers ("16.0") and exponent
// notation only below 1e-4 or from 1e16 ("1e+16", "1.5e-05"). Writing the
// lab's format keeps regenerated files byte-identical to the originals.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// Python spells these nan, inf, -inf.
		switch {
		case math.IsNaN(f):
			return append(dst, "nan"...)
		case f > 0:
			return append(dst, "inf"...)
		default:
			return append(dst, "-inf"...)
		}
	}
	// The decimal exponent of the shortest round-tripping digits decides the
	// notation, exactly as in Python's float_repr_style "short". Inside
	// [1e-4, 1e15) that exponent is in [-4, 15] whatever the rounding, so
	// the common case skips computing it.
	if a := math.Abs(f); f == 0 || (a >= 1e-4 && a < 1e15) {
		return appendFixed(dst, f)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	exp := 0
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] == 'e' {
			exp, _ = strconv.Atoi(string(e[i+1:]))
			break
		}
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	return appendFixed(dst, f)
}

// appendFixed appends the shortest fixed-point spelling of f, with ".0"
// on whole numbers as Python writes them.
func appendFixed(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, ch := range dst[start:] {
		if ch == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// intern returns a shared copy of the few strings that repeat on every row
// (categories), and a copy of any other, so that a loaded month never pins
// the buffer a value was read from (a CSV line, a staged chunk of rows).
func intern(s string) string {
	switch s {
	case "Male":
		return "Male"
	case "Female":
		return "Female"
	case "Month-to-month":
		return "Month-to-month"
	case "One year":
		return "One year"
	case "Two year":
		return "Two year"
	case "DSL":
		return "DSL"
	case "Fiber optic":
		return "Fiber optic"
	case "No":
		return "No"
	}
	return strings.Clone(s)
}
