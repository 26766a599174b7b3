package snapshot

// RawFeatures returns the customer's 14 model features (FeatureNames) as
// raw values for the online feature store: numbers as float64, booleans as
// bool, a missing optional boolean as nil (never false), net_service as a
// string. Encoding is left to the model artifact's feature spec, so one
// stored record serves every model version.
func (c *Customer) RawFeatures() map[string]any {
	return map[string]any{
		"months_active":                 float64(c.MonthsActive),
		"monthly_fee":                   c.MonthlyFee,
		"paperless_billing":             c.PaperlessBilling,
		"plan_stream_tv":                optBoolAny(c.PlanStreamTV),
		"plan_stream_movies":            optBoolAny(c.PlanStreamMovies),
		"net_service":                   c.NetService,
		"watch_hours_30d":               c.WatchHours30d,
		"avg_session_mins_7d":           c.AvgSessionMins7d,
		"unique_devices_30d":            float64(c.UniqueDevices30d),
		"skips_7d":                      float64(c.Skips7d),
		"rebuffer_events_7d":            float64(c.RebufferEvents7d),
		"failed_payments_90d":           float64(c.FailedPayments90d),
		"support_tickets_90d":           float64(c.SupportTickets90d),
		"ticket_avg_resolution_hrs_90d": c.TicketAvgResolutionHrs90d,
	}
}

// optBoolAny is o as a JSON-friendly value: true, false or nil.
func optBoolAny(o OptBool) any {
	switch o {
	case True:
		return true
	case False:
		return false
	}
	return nil
}
