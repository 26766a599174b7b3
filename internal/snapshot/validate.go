package snapshot

import "fmt"

// Validate checks an in-memory month against the same rules Load applies
// to CSV files: as_of set, at least one customer, non-empty unique user_ids,
// and no impossible value (negative counts or amounts, non-finite numbers,
// empty categories, signup after as_of). Writers call it so that nothing
// unreadable is ever stored; a generator can call it on what it built.
// Problems are reported as a *ValidationErrors with 1-based Row numbers.
func (m *Month) Validate() error {
	return m.validate("")
}

// validate is Validate with the source name to put in each problem.
func (m *Month) validate(source string) error {
	errs := ValidationErrors{Source: source}
	if m.AsOf.IsZero() {
		errs.add(&ValidationError{File: source, Column: "as_of", Msg: "as_of not set", Err: ErrInvalidAsOf})
	}
	if len(m.Customers) == 0 {
		errs.add(&ValidationError{File: source, Msg: "no customers"})
	}
	seen := make(map[string]int, len(m.Customers))
	var buf []byte
	for i := range m.Customers {
		c := &m.Customers[i]
		row := i + 1
		switch prev, dup := seen[c.UserID]; {
		case c.UserID == "":
			errs.add(&ValidationError{File: source, Row: row, Column: UserIDColumn, Msg: "empty user_id", Err: errEmpty})
		case dup:
			errs.add(&ValidationError{File: source, Row: row, Column: UserIDColumn, Value: c.UserID,
				Msg: fmt.Sprintf("duplicate user_id, first in row %d", prev)})
		default:
			seen[c.UserID] = row
		}
		for f := range layout {
			for k := range layout[f].cols {
				cs := &layout[f].cols[k]
				msg, cause := cs.check(c)
				if msg == "" && cs.kind == kindDate && !m.AsOf.IsZero() && cs.date(c).After(m.AsOf) {
					msg = "after as_of " + m.AsOf.Format(DateLayout)
				}
				if msg != "" {
					buf = cs.appendValue(buf[:0], c)
					errs.add(&ValidationError{File: source, Row: row, Column: cs.name, Value: string(buf), Msg: msg, Err: cause})
				}
			}
		}
	}
	return errs.err()
}
