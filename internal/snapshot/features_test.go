package snapshot_test

import (
	"math"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
)

func TestRawFeatures(t *testing.T) {
	m := loadSample(t, "month_000", asOf0)

	t.Run("7590-VHVEG", func(t *testing.T) {
		got := m.Customers[0].RawFeatures()
		want := map[string]any{
			"months_active": 1.0, "monthly_fee": 29.85, "paperless_billing": true,
			"plan_stream_tv": false, "plan_stream_movies": false, "net_service": "DSL",
			"watch_hours_30d": 24.483650766787413, "avg_session_mins_7d": 29.14104464084511,
			"unique_devices_30d": 3.0, "skips_7d": 4.0, "rebuffer_events_7d": 1.0,
			"failed_payments_90d": 1.0, "support_tickets_90d": 0.0, "ticket_avg_resolution_hrs_90d": 16.0,
		}
		if len(got) != len(want) {
			t.Errorf("%d features, want %d", len(got), len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s = %#v, want %#v", k, g, w)
			}
		}
	})

	t.Run("keys are FeatureNames", func(t *testing.T) {
		got := m.Customers[0].RawFeatures()
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		want := slices.Clone(snapshot.FeatureNames)
		slices.Sort(keys)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("keys = %v, want %v", keys, want)
		}
	})

	// RawFeatures must agree with the columnar view models and drift use.
	t.Run("agrees with ColumnOf", func(t *testing.T) {
		raws := make([]map[string]any, len(m.Customers))
		for i := range m.Customers {
			raws[i] = m.Customers[i].RawFeatures()
		}
		missing := 0
		for _, name := range snapshot.FeatureNames {
			col, ok := m.Column(name)
			if !ok {
				t.Fatalf("no column %s", name)
			}
			for i := range m.Customers {
				v := raws[i][name]
				switch x := v.(type) {
				case float64:
					if col.Kind != snapshot.Numerical || col.Num[i] != x {
						t.Fatalf("%s row %d: raw %v, column %v (%v)", name, i, x, col.Num[i], col.Kind)
					}
				case bool:
					if want := map[bool]string{true: "True", false: "False"}[x]; col.Cat[i] != want {
						t.Fatalf("%s row %d: raw %v, column %q", name, i, x, col.Cat[i])
					}
				case string:
					if col.Cat[i] != x {
						t.Fatalf("%s row %d: raw %q, column %q", name, i, x, col.Cat[i])
					}
				case nil:
					missing++
					if col.Cat[i] != "" || !math.IsNaN(col.Num[i]) {
						t.Fatalf("%s row %d: raw nil, column %q/%v", name, i, col.Cat[i], col.Num[i])
					}
				default:
					t.Fatalf("%s row %d: unexpected type %T", name, i, v)
				}
			}
		}
		// plan_stream_tv and plan_stream_movies, 1526 each.
		if missing != 2*1526 {
			t.Errorf("nil features = %d, want %d", missing, 2*1526)
		}
	})
}
