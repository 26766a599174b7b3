// Package synth generates realistic StreamFlow month snapshots in the lab's
// exact CSV layout, so that the whole loop (ingest, drift, train, evaluate,
// promote, predict) can be run, tested and benchmarked on as many months as
// needed: the lab ships only two, with a constant column and labels that
// barely follow the features.
//
// # Population
//
// A fixed-size population of customers (Config.Users, 7,043 by default like
// the lab) is simulated month by month. Each customer has static traits
// (demographics, internet service, streaming plans, contract, billing,
// a base fee) and per-user usage levels; each month the usage, payment and
// support aggregates are re-drawn around those levels, months_active grows
// by one (saturating at 72, as in the lab, where 72 means "six years or
// more") and total_paid accrues the month's fee.
//
// Most customers persist from month to month under the same user_id, but
// the population is not frozen: each month about 5% of the customers leave
// (at random, with a hazard that is high in the first months and low
// later) and as many new customers sign up, with new user_ids and
// months_active 0. Without that turnover every customer would age one
// month per month and months_active alone would drift past Evidently's 0.1
// threshold within three months. The tenure distribution this turnover
// keeps stationary (mean ~31, sd ~24 months, 29% in the first year, 8% at
// the cap: close to the lab's) is the one month 0 is drawn from, so with no
// drift configured any two months differ only by sampling noise. Departures
// do not depend on churn_label: as in the lab, where 2,652 labels flip
// between month_000 and month_001 while every customer stays, the label is
// the monthly churn risk a model must rank. A departed user_id never comes
// back; an online feature store keyed by user_id sees new users appear and
// old ones go stale.
//
// # Labels
//
// churn_label is drawn from a logistic model of plausible drivers: contract
// (month-to-month churns, two-year stays), short tenure, fiber and high fees,
// paperless billing, senior citizens, failed payments, support tickets and
// slow resolution, low watch hours and short sessions, rebuffering and skips,
// plus a small unobserved per-user propensity. Most of the signal comes from
// the lab's 14 model features: the true probability ranks the drawn labels
// with a ROC AUC of about 0.87, and a gradient-boosted model trained on one
// month reaches 0.82-0.85 on held-out users. The churn rate sits near the
// lab's 26.5% (0.27). Simulate returns the true probabilities next to the
// months.
//
// # Drift
//
// Config.Drift maps a month index to a Drift kind. A kind starts a new
// regime at that month which persists for every later month (a regime
// change, not a one-month blip: after retraining on the shifted month the
// model stays good), and several entries compound. FeatureShift moves
// feature distributions (fewer watch hours and shorter sessions, more
// rebuffering, failed payments and tickets, a price rise) while keeping the
// relationship between features and churn (so churn rises with the worse
// features: to about 0.5 at strength 1); LabelShift keeps the features and
// changes that relationship (account drivers such as contract, tenure and
// fee lose weight, experience drivers such as usage, payments and support
// gain it) and raises the expected churn rate, so a model trained before the
// shift degrades and retraining helps. Config.Strength scales both. At
// strength 1, measured with Evidently's rules on 7,043 users: a
// FeatureShift drifts 6 of the 15 drift columns (fee, watch hours, session
// length, rebuffers, failed payments, the label); a LabelShift drifts only
// churn_label (0.27 to 0.45), and the pre-shift true probability ranks the
// new labels with an AUC of about 0.72 against 0.89 for the new one (a
// gradient-boosted model: 0.67-0.71 before retraining, 0.87 after).
//
// # Dates
//
// Month i has as_of = the last day of the i-th month after January 2024:
// month 0 is 2024-01-31 (the lab's first as_of), month 1 2024-02-29, month 2
// 2024-03-31, and so on (see AsOf). signup_date is consistent with tenure:
// a customer with months_active t at as_of signed up t months before, on
// day 1 to 28 of that calendar month (the date keeps counting past the cap
// of 72).
//
// # Determinism
//
// The same Config gives the same months and byte-identical files: every
// draw comes from one PCG source seeded by Config.Seed, in a fixed order.
package synth
