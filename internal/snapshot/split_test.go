package snapshot_test

import (
	"math"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
)

func TestIsValidationGolden(t *testing.T) {
	// Pinned once from Python (hashlib.sha256(uid.encode()).digest()[0] < 64):
	// the split is a format promise, since models in the registry were
	// evaluated against it.
	golden := []struct {
		userID string
		val    bool
	}{
		{"7590-VHVEG", false},
		{"5575-GNVDE", false},
		{"3668-QPYBK", false},
		{"9305-CDSKC", true},
		{"1452-KIOVK", false},
		{"6713-OKOMC", true},
		{"6388-TABGU", true},
		{"7469-LKBCI", true},
	}
	for _, g := range golden {
		t.Run(g.userID, func(t *testing.T) {
			for range 3 { // the same answer on every call
				if got := snapshot.IsValidation(g.userID); got != g.val {
					t.Fatalf("IsValidation(%q) = %v, want %v", g.userID, got, g.val)
				}
			}
		})
	}
}

func TestSplitSampleMonths(t *testing.T) {
	m0 := loadSample(t, "month_000", asOf0)
	m1 := loadSample(t, "month_001", asOf1)

	for _, tt := range []struct {
		name string
		m    *snapshot.Month
	}{{"month_000", m0}, {"month_001", m1}} {
		t.Run(tt.name+" share", func(t *testing.T) {
			train, val := tt.m.Split()
			if len(train)+len(val) != len(tt.m.Customers) {
				t.Fatalf("train %d + val %d != %d customers", len(train), len(val), len(tt.m.Customers))
			}
			share := float64(len(val)) / float64(len(tt.m.Customers))
			if math.Abs(share-snapshot.ValidationShare) > 0.02 {
				t.Errorf("validation share = %.4f, want 0.25 ± 0.02", share)
			}
			for _, c := range train {
				if snapshot.IsValidation(c.UserID) {
					t.Fatalf("train holds validation user %s", c.UserID)
				}
			}
			for _, c := range val {
				if !snapshot.IsValidation(c.UserID) {
					t.Fatalf("val holds train user %s", c.UserID)
				}
			}
			// users.csv order is kept within each side.
			pos := make(map[string]int, len(tt.m.Customers))
			for i, c := range tt.m.Customers {
				pos[c.UserID] = i
			}
			for _, side := range [][]snapshot.Customer{train, val} {
				for i := 1; i < len(side); i++ {
					if pos[side[i-1].UserID] > pos[side[i].UserID] {
						t.Fatalf("split out of users.csv order at %s", side[i].UserID)
					}
				}
			}
		})
	}
	t.Run("month_000 exact count", func(t *testing.T) {
		// 1782 computed independently in Python over month_000's user_ids.
		if _, val := m0.Split(); len(val) != 1782 {
			t.Errorf("validation users = %d, want 1782", len(val))
		}
	})

	t.Run("same side in both months", func(t *testing.T) {
		_, val0 := m0.Split()
		_, val1 := m1.Split()
		in0 := make(map[string]bool, len(val0))
		for _, c := range val0 {
			in0[c.UserID] = true
		}
		if len(val0) != len(val1) {
			t.Errorf("validation sizes differ: %d vs %d", len(val0), len(val1))
		}
		labelChanged := 0
		label0 := make(map[string]bool, len(m0.Customers))
		for _, c := range m0.Customers {
			label0[c.UserID] = c.Churn
		}
		for _, c := range val1 {
			if !in0[c.UserID] {
				t.Fatalf("user %s is validation in month_001, train in month_000", c.UserID)
			}
			if label0[c.UserID] != c.Churn {
				labelChanged++
			}
		}
		// Users whose label changed stay on their side too: that is the point.
		if labelChanged == 0 {
			t.Error("no validation user changed label between months; the test proves nothing")
		}
	})
}

func TestSplitCopies(t *testing.T) {
	m := &snapshot.Month{AsOf: asOf0, Customers: []snapshot.Customer{{UserID: "9305-CDSKC"}, {UserID: "7590-VHVEG"}}}
	train, val := m.Split()
	if len(train) != 1 || len(val) != 1 || train[0].UserID != "7590-VHVEG" || val[0].UserID != "9305-CDSKC" {
		t.Fatalf("Split = %v / %v", train, val)
	}
	val[0].MonthlyFee = 1
	if m.Customers[0].MonthlyFee != 0 {
		t.Error("Split shares memory with the month")
	}
}
