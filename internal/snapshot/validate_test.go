package snapshot_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *snapshot.Month)
		row    int
		column string
		msg    string
	}{
		{"valid", func(m *snapshot.Month) {}, 0, "", ""},
		{"zero as_of", func(m *snapshot.Month) { m.AsOf = time.Time{} }, 0, "as_of", "as_of not set"},
		{"no customers", func(m *snapshot.Month) { m.Customers = nil }, 0, "", "no customers"},
		{"empty user_id", func(m *snapshot.Month) { m.Customers[1].UserID = "" }, 2, "user_id", "empty user_id"},
		{"duplicate user_id", func(m *snapshot.Month) { m.Customers[2].UserID = m.Customers[0].UserID }, 3, "user_id", "first in row 1"},
		{"negative months_active", func(m *snapshot.Month) { m.Customers[0].MonthsActive = -1 }, 1, "months_active", "negative"},
		{"negative total_paid", func(m *snapshot.Month) { m.Customers[2].TotalPaid = -0.01 }, 3, "total_paid", "negative"},
		{"NaN fee", func(m *snapshot.Month) { m.Customers[1].MonthlyFee = math.NaN() }, 2, "monthly_fee", "not a finite number"},
		{"infinite hours", func(m *snapshot.Month) { m.Customers[1].WatchHours30d = math.Inf(1) }, 2, "watch_hours_30d", "not a finite number"},
		{"bad OptBool", func(m *snapshot.Month) { m.Customers[0].PlanStreamTV = 7 }, 1, "plan_stream_tv", "invalid optional boolean"},
		{"empty category", func(m *snapshot.Month) { m.Customers[2].ContractType = "" }, 3, "contract_type", "empty value"},
		{"signup after as_of", func(m *snapshot.Month) {
			m.Customers[0].SignupDate = m.AsOf.AddDate(0, 0, 1)
		}, 1, "signup_date", "after as_of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tinyLoaded(t)
			tt.mutate(m)
			err := m.Validate()
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			verrs := problems(t, err)
			for _, p := range verrs.Problems {
				if p.Row == tt.row && p.Column == tt.column && strings.Contains(p.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no problem row %d column %q %q in:\n%v", tt.row, tt.column, tt.msg, err)
		})
	}
	t.Run("as_of cause", func(t *testing.T) {
		m := tinyLoaded(t)
		m.AsOf = time.Time{}
		if err := m.Validate(); !errors.Is(err, snapshot.ErrInvalidAsOf) {
			t.Errorf("Validate = %v, want ErrInvalidAsOf", err)
		}
	})
}

func TestLayoutAccessors(t *testing.T) {
	wantHeaders := map[string]string{
		"users.csv":            "user_id,signup_date,user_gender,user_is_senior,has_family,has_dependents",
		"subscriptions.csv":    "user_id,months_active,plan_stream_tv,plan_stream_movies,contract_type,paperless_billing,monthly_fee,total_paid,net_service",
		"usage_agg_30d.csv":    "user_id,watch_hours_30d,avg_session_mins_7d,unique_devices_30d,skips_7d,rebuffer_events_7d",
		"payments_agg_90d.csv": "user_id,failed_payments_90d",
		"support_agg_90d.csv":  "user_id,support_tickets_90d,ticket_avg_resolution_hrs_90d",
		"labels.csv":           "user_id,churn_label",
	}
	files := snapshot.Files()
	if len(files) != 6 || files[0] != "users.csv" {
		t.Fatalf("Files() = %v", files)
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			cols, ok := snapshot.Columns(name)
			if !ok || strings.Join(cols, ",") != wantHeaders[name] {
				t.Errorf("Columns(%s) = %v, %v; want %s", name, cols, ok, wantHeaders[name])
			}
		})
	}
	if _, ok := snapshot.Columns("nope.csv"); ok {
		t.Error("Columns(nope.csv) reported ok")
	}
}
